"""Data files shipped with voipkit.

- ``speech-8k.wav``: 6 s of English speech, 8 kHz mono 16-bit, generated for this
  project with ``espeak-ng -v en-us -s 150`` and converted with ``sox``; used by
  ``voipkit demo`` and tests that need speech rather than a tone.
"""

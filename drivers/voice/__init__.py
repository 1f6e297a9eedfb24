"""Speech without ever blocking the gate: ``player`` (a worker thread that plays one utterance
at a time, newest first), ``alsa`` (clips and espeak-ng through aplay, the amplifier pin around
each clip), ``module`` (a GPIO-triggered DY-SV5W-style voice module)."""

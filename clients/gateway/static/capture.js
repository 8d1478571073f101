// AudioWorklet: the microphone as 16 kHz, 16-bit mono PCM, posted in 100 ms ArrayBuffers.
// Any context rate is brought to 16 kHz: averaging the input samples that fall in each output
// sample's period (a box filter, enough against aliasing for speech recognition).

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = options.processorOptions.targetRate;
    this.step = sampleRate / target; // input samples per output sample
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
    this.last = 0;
    this.size = target / 10;
    this.out = new Int16Array(this.size);
    this.used = 0;
  }

  emit(value) {
    const v = Math.max(-1, Math.min(1, value));
    this.out[this.used++] = v < 0 ? v * 32768 : v * 32767;
    if (this.used === this.size) {
      this.port.postMessage(this.out.buffer, [this.out.buffer]); // transferred: out is now empty
      this.out = new Int16Array(this.size);
      this.used = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let x = 0;
      for (const channel of channels) x += channel[i];
      this.sum += x / channels.length;
      this.count += 1;
      this.phase += 1;
      while (this.phase >= this.step) {
        this.phase -= this.step;
        if (this.count) {
          this.last = this.sum / this.count;
          this.sum = 0;
          this.count = 0;
        }
        this.emit(this.last);
      }
    }
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);

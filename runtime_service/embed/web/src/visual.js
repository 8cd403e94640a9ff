// The audio-reactive visual while the agent speaks: Web Audio reads the level of the agent's
// remote track and sets --aw-level (0..1) on the visual; CSS scales its bars by it. Without a
// track or Web Audio (tests, old browsers) the bars keep their CSS animation instead.
const running = new WeakMap();

export function startVisual(node, mediaStreamTrack) {
  stopVisual(node);
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || !mediaStreamTrack) return;
  let context;
  try {
    context = new Context();
    const source = context.createMediaStreamSource(new MediaStream([mediaStreamTrack]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 256;
    source.connect(analyser);
    const samples = new Uint8Array(analyser.frequencyBinCount);
    const entry = { context, frame: 0 };
    const tick = () => {
      analyser.getByteFrequencyData(samples);
      let sum = 0;
      for (const value of samples) sum += value;
      node.style.setProperty("--aw-level", (sum / samples.length / 255).toFixed(3));
      entry.frame = requestAnimationFrame(tick);
    };
    node.dataset.live = "true";
    running.set(node, entry);
    tick();
  } catch {
    context?.close().catch(() => {});
  }
}

export function stopVisual(node) {
  const entry = running.get(node);
  if (!entry) return;
  running.delete(node);
  cancelAnimationFrame(entry.frame);
  entry.context.close().catch(() => {});
  delete node.dataset.live;
  node.style.removeProperty("--aw-level");
}

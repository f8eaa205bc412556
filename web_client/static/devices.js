// Local devices and checks: camera + microphone, a level meter, a test tone, a network probe.

export const MEDIA_CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: {
    facingMode: 'user',
    width: { ideal: 640 },
    height: { ideal: 360 },
    frameRate: { ideal: 25, max: 30 },
  },
};

let shared = null;  // the one camera/microphone stream of this page

/**
 * Camera and microphone, asked for once per page. Falls back to microphone only when there is
 * no camera; `audioOnly` asks for the microphone alone (the camera refused or not wanted).
 */
export async function getLocalMedia({ audioOnly = false } = {}) {
  if (shared && shared.getTracks().some((t) => t.readyState === 'live')) return shared;
  if (audioOnly) {
    shared = await navigator.mediaDevices.getUserMedia({ audio: MEDIA_CONSTRAINTS.audio });
    return shared;
  }
  try {
    shared = await navigator.mediaDevices.getUserMedia(MEDIA_CONSTRAINTS);
  } catch (err) {
    if (err && (err.name === 'NotFoundError' || err.name === 'OverconstrainedError')) {
      shared = await navigator.mediaDevices.getUserMedia({ audio: MEDIA_CONSTRAINTS.audio });
    } else {
      throw err;
    }
  }
  return shared;
}

export function stopLocalMedia() {
  if (shared) shared.getTracks().forEach((t) => t.stop());
  shared = null;
}

let audioContext = null;

export function getAudioContext() {
  if (!audioContext) audioContext = new AudioContext();
  if (audioContext.state === 'suspended') audioContext.resume().catch(() => {});
  return audioContext;
}

/**
 * Calls onLevel(0..1) about 15 times a second with the stream's loudness; returns stop().
 */
export function levelMeter(stream, onLevel) {
  const track = stream.getAudioTracks()[0];
  if (!track) return () => {};
  const ctx = getAudioContext();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    // Speech sits around 0.02-0.2 RMS; map to a meter that moves visibly.
    onLevel(track.enabled ? Math.min(1, rms * 6) : 0);
  }, 66);
  return () => { clearInterval(timer); source.disconnect(); };
}

/** Play a short two-tone chime through the speakers (WebAudio oscillator). */
export async function playTestTone(seconds = 1.2) {
  const ctx = getAudioContext();
  await ctx.resume();
  const gain = ctx.createGain();
  gain.connect(ctx.destination);
  const start = ctx.currentTime + 0.05;
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(0.25, start + 0.05);
  gain.gain.setValueAtTime(0.25, start + seconds - 0.1);
  gain.gain.linearRampToValueAtTime(0, start + seconds);
  for (const [freq, offset] of [[660, 0], [880, seconds / 2]]) {
    const osc = ctx.createOscillator();
    osc.type = 'sine';
    osc.frequency.value = freq;
    osc.connect(gain);
    osc.start(start + offset);
    osc.stop(start + (offset ? seconds : seconds / 2));
  }
  await new Promise((r) => setTimeout(r, (seconds + 0.1) * 1000));
  gain.disconnect();
}

/**
 * Probe the server: `count` small requests, `spacingMs` apart, each allowed `timeoutMs`.
 * Returns {loss, medianRtt, grade}: good below 10 % loss, bad at 15 % or more (HMCTS),
 * poor in between or when the median round trip exceeds 400 ms.
 */
export async function networkCheck({ count = 20, spacingMs = 100, timeoutMs = 2000, onProgress } = {}) {
  const rtts = [];
  let failed = 0;
  const probes = [];
  for (let i = 0; i < count; i += 1) {
    probes.push((async () => {
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), timeoutMs);
      const t0 = performance.now();
      try {
        const resp = await fetch(`/healthz?probe=${i}-${Date.now()}`, { cache: 'no-store', signal: ctrl.signal });
        await resp.arrayBuffer();
        if (!resp.ok) throw new Error(String(resp.status));
        rtts.push(performance.now() - t0);
      } catch {
        failed += 1;
      } finally {
        clearTimeout(timer);
        if (onProgress) onProgress((rtts.length + failed) / count);
      }
    })());
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  await Promise.all(probes);
  rtts.sort((a, b) => a - b);
  const loss = failed / count;
  const medianRtt = rtts.length ? rtts[Math.floor(rtts.length / 2)] : null;
  let grade = 'good';
  if (loss >= 0.15 || medianRtt === null) grade = 'bad';
  else if (loss >= 0.10 || medianRtt > 400) grade = 'poor';
  return { loss, medianRtt, grade };
}

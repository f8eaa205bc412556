// One participant's live connection to a hearing: socket.io signaling (docs/protocol.md) and
// two WebRTC peer connections (publish: we offer; subscribe: the server offers).
//
// Events (EventTarget, detail in event.detail):
//   status        {status: 'connecting'|'connected'|'reconnecting'|'not_open'|'ended', attempt}
//   hearing       the hearing changed (this.hearing)
//   me            my own record changed (this.me)
//   participants  someone changed (this.participants)
//   streams       received media changed (this.streams: Map participant id -> MediaStream)
//   ended         {reason: 'left'|'removed'|'replaced'|'dismissed'|error code}; nothing
//                 reconnects after it
//   servererror   {code, message, event}
//   identity      someone's identity check changed (this.identity: Map participant id -> status)
//   identityalert {kind, participant_id, display_name, message, ...} (staff only)
//   helprequest {id, participant_id, display_name, reason, at, ...} (staff only)
//   rooms         {reason, rooms}: caucus rooms opened, closed, changed (this.rooms)
//   agreement     the mediation agreement changed (this.agreement; a draft only to the mediator)
//   consultation  {status, request, by?, room_id?}: a consultation asked for or answered
import { movePage } from './move.js';
import { io } from '/vendor/socket.io/socket.io.esm.min.js';

export const PROTOCOL = 1;
const NAMESPACE = '/hearing';
const REQUEST_TIMEOUT_MS = 10000;
const GATHER_TIMEOUT_MS = 5000;
// Refusals and join failures after which retrying cannot help.
const FATAL = new Set([
  'unauthorized', 'invalid_token', 'token_expired', 'token_not_yet_valid', 'token_revoked',
  'removed', 'replaced', 'hearing_closed', 'protocol_mismatch',
]);

const TERMINAL = new Set(['closed', 'adjourned']);

export class SignalingError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** Resolve once ICE gathering is complete (non-trickle), or after timeoutMs. */
export function waitForIceGathering(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** mid -> {streamId, direction, rejected} for every media section of an SDP. */
export function sdpSections(sdp) {
  const out = new Map();
  for (const block of sdp.split(/\r?\nm=/).slice(1)) {
    const lines = block.split(/\r?\n/);
    const port = Number(lines[0].split(' ')[1]);
    const info = { streamId: null, direction: 'sendrecv', rejected: port === 0, kind: lines[0].split(' ')[0] };
    let mid = null;
    for (const line of lines) {
      if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
      else if (line.startsWith('a=msid:')) info.streamId = line.slice(7).split(' ')[0].trim();
      else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line.trim())) info.direction = line.trim().slice(2);
    }
    if (mid !== null) out.set(mid, info);
  }
  return out;
}

/** Grade a connection from packet loss (HMCTS: good below 10 %, bad at 15 % or more). */
export function gradeLoss(lossFraction) {
  if (lossFraction >= 0.15) return 'bad';
  if (lossFraction >= 0.10) return 'poor';
  return 'good';
}

/** The subscribe connection: answers the server's offers, maps tracks to publishers. */
class Subscriber extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.pc = null;
    this.queue = Promise.resolve();
    this.streams = new Map();  // publisher id -> MediaStream
    this.midToPid = new Map();
    this.lastSample = new Map();  // mid -> previous inbound-rtp numbers
    this.closed = false;
  }

  handleOffer(offer) {
    this.queue = this.queue.then(() => this._answer(offer)).catch((err) => {
      console.warn('subscriber offer failed', err);
      if (!this.closed) this.session._mediaFailed('subscribe');
    });
  }

  _newPc() {
    const pc = new RTCPeerConnection({ iceServers: this.session.iceServers, bundlePolicy: 'max-bundle' });
    pc.addEventListener('track', () => this._reindex());
    this.session._watchPc(pc, 'subscribe');
    return pc;
  }

  async _answer({ sdp, revision, restart, ice_servers: iceServers }) {
    if (this.closed) return;
    // Each offer carries fresh TURN credentials: the join's may have expired by the time a
    // new subscribe connection is needed.
    if (iceServers) this.session.iceServers = iceServers;
    if (restart && this.pc) {
      this.pc.close();
      this.pc = null;
    }
    if (!this.pc) this.pc = this._newPc();
    const pc = this.pc;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForIceGathering(pc);
    if (this.closed || pc !== this.pc) return;
    this._reindex();
    await this.session.call('subscribe_answer', { type: 'answer', sdp: pc.localDescription.sdp, revision });
  }

  /** Rebuild publisher -> MediaStream from the transceivers and the offer's msid lines. */
  _reindex() {
    const pc = this.pc;
    if (!pc || !pc.remoteDescription) return;
    const sections = sdpSections(pc.remoteDescription.sdp);
    const tracks = new Map();  // pid -> [track]
    const midToPid = new Map();
    for (const tr of pc.getTransceivers()) {
      const info = tr.mid !== null ? sections.get(tr.mid) : undefined;
      if (!info || info.rejected || !info.streamId) continue;
      if (info.direction === 'inactive' || info.direction === 'recvonly') continue;
      if (tr.currentDirection === 'inactive' || tr.stopped) continue;
      const track = tr.receiver.track;
      if (!track) continue;
      midToPid.set(tr.mid, info.streamId);
      if (!tracks.has(info.streamId)) tracks.set(info.streamId, []);
      tracks.get(info.streamId).push(track);
    }
    this.midToPid = midToPid;
    let changed = tracks.size !== this.streams.size;
    const next = new Map();
    for (const [pid, list] of tracks) {
      const old = this.streams.get(pid);
      const same = old && old.getTracks().length === list.length
        && list.every((t) => old.getTracks().includes(t));
      if (same) next.set(pid, old);
      else { next.set(pid, new MediaStream(list)); changed = true; }
    }
    this.streams = next;
    if (changed) this.dispatchEvent(new CustomEvent('streams', { detail: next }));
  }

  /**
   * Per publisher: {audio: {packetsReceived, audioLevel}, video: {packetsReceived,
   * framesDecoded, frameWidth, frameHeight, framesPerSecond}, loss, quality}. Loss and
   * quality come from the change since the previous call.
   */
  async stats() {
    const out = new Map();
    const pc = this.pc;
    if (!pc) return out;
    const report = await pc.getStats();
    const now = performance.now();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.mid === undefined) return;
      const pid = this.midToPid.get(s.mid);
      if (!pid) return;
      const entry = out.get(pid) || { lost: 0, received: 0, stalled: false };
      const prev = this.lastSample.get(s.mid);
      const received = s.packetsReceived || 0;
      const lost = Math.max(0, s.packetsLost || 0);
      if (prev) {
        entry.received += received - prev.received;
        entry.lost += Math.max(0, lost - prev.lost);
        if (s.kind === 'video' && received === prev.received && now - prev.at > 1500) entry.stalled = true;
      }
      this.lastSample.set(s.mid, { received, lost, at: now });
      entry[s.kind] = {
        packetsReceived: received,
        packetsLost: lost,
        audioLevel: s.audioLevel,
        framesDecoded: s.framesDecoded,
        frameWidth: s.frameWidth,
        frameHeight: s.frameHeight,
        framesPerSecond: s.framesPerSecond,
        jitter: s.jitter,
      };
      out.set(pid, entry);
    });
    for (const entry of out.values()) {
      const total = entry.received + entry.lost;
      entry.loss = total > 0 ? entry.lost / total : 0;
      entry.quality = entry.stalled ? 'bad' : gradeLoss(entry.loss);
    }
    return out;
  }

  close() {
    this.closed = true;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.streams.size) {
      this.streams = new Map();
      this.dispatchEvent(new CustomEvent('streams', { detail: this.streams }));
    }
  }
}

export class Session extends EventTarget {
  /**
   * token: the join token. localStream: camera/microphone to publish (null: receive only,
   * e.g. the courtroom display).
   */
  constructor({ token, localStream = null }) {
    super();
    this.token = token;
    this.localStream = localStream;
    this.hearing = null;
    this.me = null;
    this.participants = new Map();
    this.identity = new Map();
    this.rooms = [];
    this.agreement = null;
    this.iceServers = [];
    this.streams = new Map();
    this.status = 'connecting';
    this.ended = false;
    this.joined = false;
    this.publishPc = null;
    this.screens = new Map();  // shared screens received, by stream id (evidence.js)
    this.subscriber = null;
    this.pendingOffers = [];
    this.publishQuality = null;
    this._lastOutbound = null;
    this._retryTimer = null;
    this._firstJoin = null;
    this._reconnectDelay = null;
    this._mediaFailures = 0;
  }

  /** Connect and join; resolves with the join result, rejects with a SignalingError. */
  start() {
    this._firstJoin = {};
    const promise = new Promise((resolve, reject) => Object.assign(this._firstJoin, { resolve, reject }));
    const socket = io(NAMESPACE, {
      auth: { token: this.token },
      transports: ['websocket'],
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: REQUEST_TIMEOUT_MS,
    });
    this.socket = socket;
    socket.on('connect', () => this._onConnect());
    socket.on('disconnect', (reason) => this._onDisconnect(reason));
    socket.on('connect_error', (err) => this._onConnectError(err));
    socket.io.on('reconnect_attempt', (n) => this._setStatus('reconnecting', n));
    socket.on('hearing_state', (h) => {
      this.hearing = h;
      this._emit('hearing', h);
      // A closed or adjourned hearing cannot be rejoined: nothing left to connect to.
      if (TERMINAL.has(h.state)) this._end('hearing_closed');
    });
    socket.on('participant_updated', (p) => this._updateParticipant(p));
    socket.on('me_updated', (p) => this._updateMe(p));
    socket.on('subscriber_offer', (offer) => {
      if (this.joined && this.subscriber) this.subscriber.handleOffer(offer);
      else this.pendingOffers.push(offer);
    });
    socket.on('removed', () => this._end('removed'));
    // Joined again from another window or device: that one speaks for us now.
    socket.on('replaced', () => this._end('replaced'));
    // A witness dismissed out of the hearing: their link still works if they are recalled.
    socket.on('dismissed', () => this._end('dismissed'));
    socket.on('caption', (c) => this._emit('caption', c));
    // Everyone learns whether they are recorded; the staff also hear of recording failures
    // and of the server shedding load (it keeps audio and connections, drops video first).
    socket.on('recording_state', (r) => { this.recording = r; this._emit('recording', r); });
    socket.on('recording_alert', (a) => this._emit('recordingalert', a));
    // Everyone learns whether the hearing is broadcast to the public (live, cut, not live).
    socket.on('livestream_state', (s) => { this.livestream = s; this._emit('livestream', s); });
    socket.on('server_load', (l) => this._emit('serverload', l));
    socket.on('identity_updated', (d) => {
      this.identity.set(d.participant_id, d);
      this._emit('identity', this.identity);
    });
    socket.on('identity_alert', (a) => this._emit('identityalert', a));
    socket.on('help_request', (a) => this._emit('helprequest', a));
    socket.on('rooms_updated', (d) => { this.rooms = d.rooms || []; this._emit('rooms', d); });
    socket.on('agreement_updated', (a) => { this.agreement = a; this._emit('agreement', a); });
    socket.on('consultation', (d) => this._emit('consultation', d));
    // A notice for me (notices.js); the console also hears of every receipt.
    socket.on('notice', (n) => this._emit('notice', n));
    socket.on('notice_updated', (n) => this._emit('noticeupdated', n));
    // Evidence (evidence.js): what is on every screen, and that the bundle changed.
    socket.on('presentation', (p) => { this.presentation = p; this._emit('presentation', p); });
    socket.on('evidence_updated', (d) => this._emit('evidenceupdated', d));
    socket.on('error', (e) => this._emit('servererror', e));
    return promise;
  }

  get mayPublish() {
    return Boolean(this.localStream) && !['courtroom_display', 'observer'].includes(this.me?.role);
  }

  async call(event, data = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.socket) throw new SignalingError('not_connected', 'not connected');
    let reply;
    try {
      reply = await this.socket.timeout(timeoutMs).emitWithAck(event, data);
    } catch (err) {
      throw new SignalingError('timeout', String(err?.message || err));
    }
    if (!reply || !reply.ok) throw new SignalingError(reply?.code || 'error', reply?.message || '');
    return reply;
  }

  async leave() {
    if (this.ended) return;
    try { await this.call('leave', {}, 3000); } catch (err) { console.warn('leave', err); }
    this._end('left');
  }

  // -- connection lifecycle -------------------------------------------------------------

  async _onConnect() {
    if (this.ended) return;
    this.pendingOffers = [];
    let result;
    try {
      result = await this.call('join', { protocol: PROTOCOL });
    } catch (err) {
      this._joinFailed(err);
      return;
    }
    this.hearing = result.hearing;
    this._failover = result.failover || null;
    this._unreachableSince = null;
    // With several nodes, a node that stops answering is given up on soon after its leases
    // run out: look again every second rather than at socket.io's back-off (up to 5 s).
    if (this._failover) this.socket.io.reconnectionDelayMax(1000);
    this.recording = result.recording || null;
    this.livestream = result.livestream || null;
    this.iceServers = result.ice_servers || [];
    this.participants = new Map(result.participants.map((p) => [p.id, p]));
    this.identity = new Map(Object.entries(result.identity || {}));
    this.rooms = result.rooms || [];
    this.oath = result.oath || [];  // a witness's or expert's undertaking (oath.js)
    this.notices = result.notices || [];  // notices.js
    this.presentation = result.presentation || null;  // evidence.js
    this._updateMe(result.me);
    this.subscriber = new Subscriber(this);
    this.subscriber.addEventListener('streams', (ev) => {
      // A shared screen arrives in the stream "<pid>~screen": the viewer shows it, not a tile.
      const tiles = new Map();
      const screens = new Map();
      for (const [id, stream] of ev.detail) (id.endsWith('~screen') ? screens : tiles).set(id, stream);
      this.streams = tiles;
      this.screens = screens;
      this._emit('streams', this.streams);
      this._emit('screens', this.screens);
    });
    this.joined = true;
    for (const offer of this.pendingOffers.splice(0)) this.subscriber.handleOffer(offer);
    this._emit('hearing', this.hearing);
    this._emit('participants', this.participants);
    if (this.recording) this._emit('recording', this.recording);
    // An alert raised before this console joined (a restart on a full disk): shown as if live.
    if (this.recording && this.recording.alert && this.recording.alert.severity === 'error') {
      this._emit('recordingalert', this.recording.alert);
    }
    if (this.livestream) this._emit('livestream', this.livestream);
    this._emit('identity', this.identity);
    this._emit('rooms', { reason: 'joined', rooms: this.rooms });
    this._emit('joined', result);
    this._setStatus('connected');
    if (this._firstJoin) {
      this._firstJoin.resolve(result);
      this._firstJoin = null;
    }
    if (this.mayPublish) {
      try {
        await this._publish();
      } catch (err) {
        console.warn('publishing failed', err);
        this._mediaFailed('publish');
      }
    }
  }

  _joinFailed(err) {
    const code = err.code || 'error';
    if (FATAL.has(code)) {
      this._end(code);
      return;
    }
    if (code === 'hearing_not_open') {
      // The court has not opened the waiting room yet: try again in a while.
      this._restartSocket(15000);
      this._setStatus('not_open');
      if (this._firstJoin) { this._firstJoin.resolve(null); this._firstJoin = null; }
    } else {
      this._restartSocket(2000);
    }
  }

  /** Drop the socket (and with it the server's media peers) and connect again after ms. */
  _restartSocket(ms) {
    this._reconnectDelay = ms;
    if (this.socket.connected) this.socket.disconnect();
    else this._retry(ms);
  }

  _retry(ms) {
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => { if (!this.ended) this.socket.connect(); }, ms);
  }

  _onDisconnect(reason) {
    this.joined = false;
    this._closeMedia();
    if (this.ended) return;
    this._setStatus('reconnecting');
    // The node went away (not a kick): from now on it counts as unreachable (_maybeFailover).
    if (reason === 'transport close' || reason === 'transport error' || reason === 'ping timeout') {
      this._unreachableSince ??= Date.now();
    }
    // socket.io reconnects by itself after transport errors, not after a disconnect that
    // either side asked for: a server-side kick (not a removal) or our own restart.
    if (reason === 'io server disconnect' || reason === 'io client disconnect') {
      this._retry(this._reconnectDelay ?? 1000);
    }
    this._reconnectDelay = null;
  }

  _onConnectError(err) {
    const code = err?.data?.code;
    if (code === 'moved' && this._moveTo(err.data.url)) return;
    if (code === 'unavailable') {
      // Its server stopped and the hearing moves to another one within seconds.
      this._setStatus('reconnecting');
      this._retry(Math.max(500, Math.min(30000, 1000 * (Number(err.data.retry_after) || 3))));
      return;
    }
    if (code && FATAL.has(code)) {
      if (this._firstJoin) { this._firstJoin.reject(new SignalingError(code, err.message)); this._firstJoin = null; }
      this._end(code);
      return;
    }
    this._setStatus('reconnecting');
    if (!code) this._maybeFailover();
    // A refusal with another code is not retried by socket.io itself.
    if (code) this._retry(3000);
  }

  /** Another server serves this hearing: open this same page there (move.js), where the
   * socket, the media and the page's requests all go. */
  _moveTo(url) {
    // Quietly: the page is replaced, so no 'ended' screen flashes up before it goes.
    const leave = () => {
      this.ended = true;
      clearTimeout(this._retryTimer);
      this._closeMedia();
      this.socket?.io.reconnection(false);
      this.socket?.disconnect();
      this._setStatus('connecting');
    };
    if (!url || new URL(url, location.href).origin === location.origin) return false;
    leave();
    return movePage(url, this.token, document.documentElement.lang);
  }

  /** This node stopped answering (a transport error, not a refusal): once it has for longer
   * than its hearings' leases last, go back to the entry, which sends the page to the node
   * that serves the hearing now. Only with several nodes (the join said where the entry is). */
  _maybeFailover() {
    const failover = this._failover;
    if (!failover) return;
    this._unreachableSince ??= Date.now();
    if (Date.now() - this._unreachableSince >= failover.after_seconds * 1000) {
      this._moveTo(failover.entry_url);
    }
  }

  /** A peer connection failed: start over (new socket, join again, publish again). */
  _mediaFailed(which) {
    if (this.ended || !this.joined) return;
    // Back off when it keeps failing: every restart makes the others renegotiate too.
    this._mediaFailures += 1;
    const delay = Math.min(30000, 500 * 2 ** (this._mediaFailures - 1));
    console.warn(`${which} connection failed; reconnecting in ${delay} ms`);
    this._restartSocket(delay);
  }

  _watchPc(pc, which) {
    let timer = null;
    pc.addEventListener('connectionstatechange', () => {
      clearTimeout(timer);
      if (pc.connectionState === 'connected') this._mediaFailures = 0;
      else if (pc.connectionState === 'failed') this._mediaFailed(which);
      else if (pc.connectionState === 'disconnected') {
        timer = setTimeout(() => { if (pc.connectionState === 'disconnected') this._mediaFailed(which); }, 8000);
      }
    });
  }

  async _publish() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.publishPc = pc;
    this._watchPc(pc, 'publish');
    const stream = this.localStream;
    for (const kind of ['audio', 'video']) {
      const track = stream.getTracks().find((t) => t.kind === kind && t.readyState === 'live');
      if (track) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    if (pc !== this.publishPc) return;
    const reply = await this.call('publish_offer', { type: 'offer', sdp: pc.localDescription.sdp });
    if (pc !== this.publishPc) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
  }

  /**
   * Share a screen or window (evidence.js): a second video section on the publish connection,
   * named as the screen, so that subscribers receive it apart from the camera. The server
   * forwards it only while it is presented. A second share replaces the track in place.
   */
  async shareScreen() {
    const pc = this.publishPc;
    if (!pc) throw new SignalingError('not_publishing', 'no publish connection');
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    this.screenTrack?.stop();
    this.screenTrack = track;
    track.addEventListener('ended', () => this._emit('screenended', track));
    if (this.screenTransceiver && this._screenPc === pc) {
      await this.screenTransceiver.sender.replaceTrack(track);
      return track;
    }
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    const reply = await this.call('publish_offer', {
      type: 'offer', sdp: pc.localDescription.sdp, screen_mid: transceiver.mid,
    });
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    this.screenTransceiver = transceiver;
    this._screenPc = pc;
    return track;
  }

  /** Stop sending the shared screen (the section stays, sending nothing). */
  stopScreen() {
    if (!this.screenTrack) return;
    this.screenTrack.stop();
    this.screenTrack = null;
    this.screenTransceiver?.sender.replaceTrack(null).catch(() => {});
  }

  /** Loss the server reports about what we send (RTCP receiver reports). */
  async publishStats() {
    const pc = this.publishPc;
    if (!pc) return null;
    const report = await pc.getStats();
    let lost = 0; let sent = 0; let rtt = null;
    report.forEach((s) => {
      if (s.type === 'remote-inbound-rtp') {
        lost += Math.max(0, s.packetsLost || 0);
        if (s.roundTripTime !== undefined) rtt = s.roundTripTime;
      } else if (s.type === 'outbound-rtp') {
        sent += s.packetsSent || 0;
      }
    });
    const prev = this._lastOutbound;
    this._lastOutbound = { lost, sent };
    if (!prev || sent <= prev.sent) return { quality: null, rtt };
    const dl = Math.max(0, lost - prev.lost);
    const loss = dl / (sent - prev.sent + dl);
    return { quality: gradeLoss(loss), loss, rtt };
  }

  /**
   * Tell the server how this connection fares (the clerk's board shows it): when the grade
   * changes, and every 30 s while it holds. ``own`` is a publishStats() result.
   */
  reportNetwork(own) {
    if (!own?.quality || !this.joined) return;
    const now = Date.now();
    const last = this._lastReport;
    if (last && last.grade === own.quality && now - last.at < 30000) return;
    this._lastReport = { grade: own.quality, at: now };
    this.call('network_report', {
      grade: own.quality,
      loss_pct: own.loss === undefined ? null : Math.min(100, Math.round(own.loss * 100)),
      rtt_ms: own.rtt === null || own.rtt === undefined ? null : Math.min(60000, Math.round(own.rtt * 1000)),
    }).catch(() => { this._lastReport = null; });
  }

  _closeMedia() {
    if (this.publishPc) this.publishPc.close();
    this.publishPc = null;
    this._lastOutbound = null;
    if (this.subscriber) this.subscriber.close();
    this.subscriber = null;
    if (this.streams.size) {
      this.streams = new Map();
      this._emit('streams', this.streams);
    }
  }

  _end(reason) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this._retryTimer);
    this._closeMedia();
    if (this.socket) {
      this.socket.io.reconnection(false);
      this.socket.disconnect();
    }
    if (this._firstJoin) {
      this._firstJoin.reject(new SignalingError(reason, reason));
      this._firstJoin = null;
    }
    this._setStatus('ended');
    this._emit('ended', { reason });
  }

  // -- state ------------------------------------------------------------------------------

  _updateParticipant(p) {
    const old = this.participants.get(p.id) || {};
    this.participants.set(p.id, { ...old, ...p });
    this._emit('participants', this.participants);
  }

  _updateMe(p) {
    this.me = { ...(this.me || {}), ...p };
    this.participants.set(p.id, { ...(this.participants.get(p.id) || {}), ...p });
    this.applyMute();
    this._emit('me', this.me);
  }

  /** The microphone follows the server's word: muted by anyone means no audio. */
  applyMute() {
    if (!this.localStream || !this.me) return;
    for (const track of this.localStream.getAudioTracks()) track.enabled = !this.me.audio_muted;
  }

  _setStatus(status, attempt = 0) {
    if (this.ended && status !== 'ended') return;
    this.status = status;
    this._emit('status', { status, attempt });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

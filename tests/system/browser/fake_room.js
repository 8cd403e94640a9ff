// A stand-in for livekit-client's Room, injected into the widget's iframe by the browser tests
// (context.add_init_script): the widget uses window.__anyreachTestRoom instead of Room. The
// test drives it from the frame: fakeRooms.at(-1).speakers(["agent"]), .agentState("thinking"),
// .stream("lk.transcription") then .push(chunk) / .close(), .reconnecting(), .reconnected(),
// .drop(). window.fakeRoomMode: "connect" (default), "fail", or "manual" (connect waits for
// window.fakeRelease()).
(() => {
  class FakeParticipant {
    constructor(identity, isLocal) {
      this.identity = identity;
      this.isLocal = isLocal;
      this.attributes = {};
      this.audioTrackPublications = new Map();
      this.sent = [];
      this.microphone = false;
      this.isCameraEnabled = false;
      this.isScreenShareEnabled = false;
    }
    async sendText(text, options) {
      this.sent.push({ text, topic: options && options.topic });
    }
    async setMicrophoneEnabled(on) {
      this.microphone = on;
    }
    async setCameraEnabled(on) {
      this.isCameraEnabled = on;
    }
    async setScreenShareEnabled(on) {
      this.isScreenShareEnabled = on;
    }
  }

  class FakeRoom {
    constructor(options) {
      this.options = options;
      this.handlers = {};
      this.textHandlers = {};
      this.state = "disconnected";
      this.canPlaybackAudio = true;
      this.localParticipant = new FakeParticipant("visitor", true);
      this.remoteParticipants = new Map();
      this.agent = new FakeParticipant("agent", false);
      window.fakeRooms.push(this);
    }
    on(event, fn) {
      (this.handlers[event] = this.handlers[event] || []).push(fn);
      return this;
    }
    emit(event, ...args) {
      for (const fn of this.handlers[event] || []) fn(...args);
    }
    registerTextStreamHandler(topic, fn) {
      this.textHandlers[topic] = fn;
    }
    async connect(url, token) {
      this.url = url;
      this.token = token;
      const mode = window.fakeRoomMode || "connect";
      if (mode === "manual") await new Promise((resolve) => (window.fakeRelease = resolve));
      if (mode === "fail") {
        this.emit("disconnected");
        throw new Error("fake: the LiveKit server is unreachable");
      }
      this.state = "connected";
      this.remoteParticipants.set(this.agent.identity, this.agent);
      this.emit("connected");
    }
    async disconnect() {
      this.state = "disconnected";
      this.emit("disconnected");
    }
    startAudio() {
      return Promise.resolve();
    }
    // --- driven by the tests ---
    speakers(identities) {
      const all = { agent: this.agent, visitor: this.localParticipant };
      this.emit("activeSpeakersChanged", identities.map((id) => all[id]));
    }
    agentState(value) {
      this.agent.attributes = { ...this.agent.attributes, "lk.agent.state": value };
      this.emit("participantAttributesChanged", { "lk.agent.state": value }, this.agent);
    }
    stream(topic, identity) {
      const queue = [];
      let wake = null;
      let done = false;
      const reader = {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (queue.length) yield queue.shift();
            if (done) return;
            await new Promise((resolve) => (wake = resolve));
          }
        },
      };
      this.textHandlers[topic](reader, { identity: identity || "agent" });
      const poke = () => {
        if (wake) wake();
        wake = null;
      };
      return {
        push(chunk) {
          queue.push(chunk);
          poke();
        },
        close() {
          done = true;
          poke();
        },
      };
    }
    // The agent's audio: a real MediaStreamTrack (an oscillator), so Web Audio can read it.
    agentAudio() {
      const context = new AudioContext();
      const oscillator = context.createOscillator();
      const destination = context.createMediaStreamDestination();
      oscillator.connect(destination);
      oscillator.start();
      const track = {
        kind: "audio",
        mediaStreamTrack: destination.stream.getAudioTracks()[0],
        attach: () => document.createElement("audio"),
        detach: () => [],
      };
      this.emit("trackSubscribed", track, {}, this.agent);
    }
    reconnecting() {
      this.state = "reconnecting";
      this.emit("reconnecting");
    }
    reconnected() {
      this.state = "connected";
      this.emit("reconnected");
    }
    drop() {
      this.state = "disconnected";
      this.emit("disconnected");
    }
  }

  window.fakeRooms = [];
  window.__anyreachTestRoom = FakeRoom;
})();

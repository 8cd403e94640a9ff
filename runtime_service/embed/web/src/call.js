// The conversation's LiveKit room: joining it, the agent's audio, video and text, the visitor's
// messages, microphone (voice mode), camera and screen, and leaving. state.room is the room of
// the current call (null between calls); state.voice says whether voice mode is on.
//
// What happens in the room is reported to `events` (widget.js turns it into the one state the
// window shows): onState(name, activity) with name connected/reconnecting/error and, while
// connected, the agent's activity (listening/thinking/speaking); onEnded() when a call that
// was up closes on its own.
import { Room, RoomEvent, Track } from "livekit-client";
import { message, primaryButton, setPressed } from "./view.js";
import { t } from "./strings.js";
import { startVisual, stopVisual } from "./visual.js";

// The browser tests inject a stand-in for Room here (tests/system/browser/fake_room.js). Only code
// already running in the iframe's own origin can set it, and that code controls the app anyway.
function roomClass() {
  return window.__anyreachTestRoom || Room;
}

const AGENT_STATE = "lk.agent.state";

// The agent's activity: speaking when LiveKit counts a remote participant among the active
// speakers or the agent says so in its lk.agent.state attribute; thinking likewise; else
// listening.
export function agentActivity(room, speakers) {
  const remoteSpeaking = (speakers || []).some((p) => !p.isLocal);
  let agentState = "";
  for (const participant of room.remoteParticipants.values()) {
    const value = participant.attributes && participant.attributes[AGENT_STATE];
    if (value) agentState = value;
  }
  if (remoteSpeaking || agentState === "speaking") return "speaking";
  if (agentState === "thinking") return "thinking";
  return "listening";
}

export async function connect(state, details, firstMessage, events) {
  const ui = state.ui;
  const Impl = roomClass();
  const room = new Impl({ adaptiveStream: true, dynacast: true });
  state.room = room;
  let speakers = [];
  const current = () => state.room === room;
  const report = () => {
    if (current() && room.state === "connected") events.onState("connected", agentActivity(room, speakers));
  };
  // Text mode has the speaker off: the agent's audio is attached only in voice mode.
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Video) ui.media.append(track.attach());
    if (track.kind === Track.Kind.Audio) {
      if (state.voice) ui.media.append(track.attach());
      startVisual(ui.visual, track.mediaStreamTrack);
    }
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => {
    if (track.kind === Track.Kind.Audio) stopVisual(ui.visual);
    track.detach().forEach((node) => node.remove());
  });
  // Autoplay refused by the browser: one click on this button starts the audio.
  room.on(RoomEvent.AudioPlaybackStatusChanged, () => {
    if (room.canPlaybackAudio || ui.media.querySelector(".aw-audio")) return;
    const button = primaryButton(t("enableAudio"), "aw-audio", () => room.startAudio().then(() => button.remove()));
    ui.media.append(button);
  });
  room.on(RoomEvent.ActiveSpeakersChanged, (list) => {
    speakers = list || [];
    report();
  });
  room.on(RoomEvent.ParticipantAttributesChanged, report);
  room.on(RoomEvent.ParticipantConnected, report);
  room.on(RoomEvent.Reconnecting, () => current() && events.onState("reconnecting"));
  room.on(RoomEvent.Reconnected, report);
  let connected = false;
  // A failed connect also emits Disconnected: only the end of a session that was up ends it,
  // and not a room already left (leave() clears state.room first).
  room.on(RoomEvent.Disconnected, () => {
    if (connected && current()) events.onEnded();
  });
  // The transcript as it arrives: one bubble per stream, grown chunk by chunk.
  const onText = (fromAgent) => async (reader, info) => {
    const mine = info.identity === room.localParticipant.identity;
    if (!fromAgent && mine) return;
    let bubble = null;
    let text = "";
    for await (const chunk of reader) {
      text += chunk;
      if (!text) continue;
      if (bubble) bubble.update(text);
      else bubble = message(ui, mine ? "user" : "agent", text);
    }
  };
  room.registerTextStreamHandler?.("lk.transcription", onText(true));
  room.registerTextStreamHandler?.("lk.chat", onText(false));
  try {
    await room.connect(details.url, details.token);
  } catch (err) {
    if (!current()) return;
    console.warn("[Anyreach widget] LiveKit connection failed:", err);
    state.room = null;
    events.onState("error");
    return;
  }
  if (!current()) return;
  connected = true;
  state.connected = true;
  report();
  if (state.voice) await setVoice(state, true);
  if (firstMessage) sendText(state, firstMessage);
}

export async function leave(state) {
  const room = state.room;
  state.room = null;
  stopVisual(state.ui.visual);
  if (room) await room.disconnect().catch(() => {});
  state.ui.media.replaceChildren();
}

export async function sendText(state, text) {
  const room = state.room;
  if (!room || room.state !== "connected") return; // the composer is disabled then
  message(state.ui, "user", text);
  try {
    await room.localParticipant.sendText(text, { topic: "lk.chat" });
  } catch {
    message(state.ui, "note", t("sendFailed"));
  }
}

// Voice mode: microphone on and the agent's audio played; text mode: both off. The visitor can
// switch at any time with the microphone button.
export async function setVoice(state, on) {
  state.voice = on;
  const room = state.room;
  if (!room) return;
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.audioTrackPublications.values()) {
      const track = publication.track;
      if (!track) continue;
      if (on) state.ui.media.append(track.attach());
      else track.detach().forEach((node) => node.remove());
    }
  }
  if (room.state !== "connected") return;
  try {
    await room.localParticipant.setMicrophoneEnabled(on);
    setPressed(state.ui, "mic", on);
  } catch {
    message(state.ui, "note", t("micUnavailable"));
  }
}

// kind: "camera" or "screen".
export async function toggleDevice(state, kind) {
  const participant = state.room?.localParticipant;
  if (!participant || state.room.state !== "connected") return;
  try {
    if (kind === "camera") {
      const on = !participant.isCameraEnabled;
      await participant.setCameraEnabled(on);
      setPressed(state.ui, "camera", on);
    } else {
      const on = !participant.isScreenShareEnabled;
      await participant.setScreenShareEnabled(on);
      setPressed(state.ui, "screen", on);
    }
  } catch {
    message(state.ui, "note", kind === "camera" ? t("cameraUnavailable") : t("screenUnavailable"));
  }
}

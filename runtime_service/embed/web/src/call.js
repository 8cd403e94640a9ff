// The conversation's LiveKit room: joining it, the agent's audio, video and text, the visitor's
// messages, microphone (voice mode), camera and screen, and leaving. state.room is the room of
// the current call (null between calls); state.voice says whether voice mode is on.
import { Room, RoomEvent, Track } from "livekit-client";
import { message, primaryButton, setPressed, status } from "./view.js";

// onEnded: the room closed on its own (the agent or the server ended the call).
export async function connect(state, details, firstMessage, onEnded) {
  const ui = state.ui;
  const room = new Room({ adaptiveStream: true, dynacast: true });
  state.room = room;
  // Text mode has the speaker off: the agent's audio is attached only in voice mode.
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Video) ui.media.append(track.attach());
    if (track.kind === Track.Kind.Audio && state.voice) ui.media.append(track.attach());
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => track.detach().forEach((node) => node.remove()));
  // Autoplay refused by the browser: one click on this button starts the audio.
  room.on(RoomEvent.AudioPlaybackStatusChanged, () => {
    if (room.canPlaybackAudio || ui.messages.querySelector(".aw-audio")) return;
    const button = primaryButton("Enable audio", "aw-audio", () => room.startAudio().then(() => button.remove()));
    ui.messages.append(button);
  });
  let connected = false;
  // A failed connect also emits Disconnected: only the end of a session that was up ends it,
  // and not a room already left (leave() clears state.room first).
  room.on(RoomEvent.Disconnected, () => {
    if (connected && state.room === room) onEnded();
  });
  const onText = (fromAgent) => async (reader, info) => {
    const text = await reader.readAll();
    const mine = info.identity === room.localParticipant.identity;
    if (text && (fromAgent || !mine)) message(ui, mine ? "user" : "agent", text);
  };
  room.registerTextStreamHandler?.("lk.transcription", onText(true));
  room.registerTextStreamHandler?.("lk.chat", onText(false));
  try {
    await room.connect(details.url, details.token);
    connected = true;
  } catch (err) {
    if (state.room !== room) return;
    console.warn("[Anyreach widget] LiveKit connection failed:", err);
    status(ui, "Could not connect to the voice service.");
    const retry = primaryButton("Try again", "aw-retry", () => {
      retry.remove();
      status(ui, "Connecting…");
      connect(state, details, firstMessage, onEnded);
    });
    ui.messages.append(retry);
    return;
  }
  status(ui, "Connected.");
  if (state.voice) await setVoice(state, true);
  if (firstMessage) sendText(state, firstMessage);
}

export async function leave(state) {
  const room = state.room;
  state.room = null;
  if (room) await room.disconnect().catch(() => {});
  state.ui.media.replaceChildren();
}

export async function sendText(state, text) {
  message(state.ui, "user", text);
  const room = state.room;
  if (!room || room.state !== "connected") {
    status(state.ui, "Not connected: the message was not sent.");
    return;
  }
  try {
    await room.localParticipant.sendText(text, { topic: "lk.chat" });
  } catch {
    status(state.ui, "The message could not be sent.");
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
    status(state.ui, "The microphone is not available.");
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
    status(state.ui, kind === "camera" ? "The camera is not available." : "Screen sharing is not available.");
  }
}

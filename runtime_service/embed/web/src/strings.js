// Every text the widget shows, by key. t(key, vars) fills {name} placeholders. Locale tables
// and config.v1.strings overrides are merged over English by setStrings (widget.js).
const EN = {
  openChat: "Open chat",
  closeChat: "Close chat",
  close: "Close",
  title: "Chat",
  greeting: "Hi! How can we help?",
  start: "Start conversation",
  connecting: "Connecting…",
  listening: "Connected. Listening",
  agentSpeaking: "Agent is speaking",
  agentThinking: "Agent is thinking",
  reconnecting: "Connection lost. Reconnecting…",
  ended: "The conversation has ended.",
  connectFailed: "Could not connect to the voice service.",
  startFailed: "Could not start the conversation: {detail}",
  retry: "Try again",
  cancel: "Cancel",
  newConversation: "New conversation",
  notConnected: "Available once connected",
  microphone: "Microphone",
  camera: "Camera",
  shareScreen: "Share screen",
  endConversation: "End conversation",
  message: "Message",
  typeMessage: "Type a message…",
  send: "Send",
  sendFailed: "The message could not be sent.",
  micUnavailable: "The microphone is not available.",
  cameraUnavailable: "The camera is not available.",
  screenUnavailable: "Screen sharing is not available.",
  enableAudio: "Enable audio",
  transcript: "Conversation transcript",
  required: "“{label}” is required.",
  invalid: "“{label}” is not valid.",
  choose: "Choose…",
  submit: "Submit",
  feedbackTitle: "How was your conversation?",
  feedbackSend: "Send",
  thanks: "Thank you!",
  stars: "{n} of 5",
};

let table = EN;

export function setStrings(overrides) {
  table = { ...EN, ...(overrides || {}) };
}

export function t(key, vars) {
  let text = table[key] ?? EN[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

export const STRING_KEYS = Object.keys(EN);

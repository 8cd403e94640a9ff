// Built-in translations (English is strings.js's EN) and the choice of language: config.v1.locale
// when the widget fixes one, else the loader's `locale` parameter, else the browser's languages;
// a language without a table falls back to English. Right-to-left languages set dir="rtl".
export const TABLES = {
  es: {
    openChat: "Abrir chat", closeChat: "Cerrar chat", close: "Cerrar", title: "Chat",
    greeting: "¡Hola! ¿En qué podemos ayudarte?", start: "Iniciar conversación",
    connecting: "Conectando…", listening: "Conectado. Escuchando",
    agentSpeaking: "El agente está hablando", agentThinking: "El agente está pensando",
    reconnecting: "Conexión perdida. Reconectando…", ended: "La conversación ha terminado.",
    connectFailed: "No se pudo conectar con el servicio de voz.",
    startFailed: "No se pudo iniciar la conversación: {detail}", retry: "Reintentar",
    cancel: "Cancelar", newConversation: "Nueva conversación",
    notConnected: "Disponible una vez conectado", microphone: "Micrófono", camera: "Cámara",
    shareScreen: "Compartir pantalla", endConversation: "Terminar conversación",
    message: "Mensaje", typeMessage: "Escribe un mensaje…", send: "Enviar",
    sendFailed: "No se pudo enviar el mensaje.", micUnavailable: "El micrófono no está disponible.",
    cameraUnavailable: "La cámara no está disponible.",
    screenUnavailable: "No se puede compartir la pantalla.", enableAudio: "Activar audio",
    transcript: "Transcripción de la conversación", required: "«{label}» es obligatorio.",
    choose: "Elige…", submit: "Enviar", feedbackTitle: "¿Qué tal fue la conversación?",
    feedbackSend: "Enviar", thanks: "¡Gracias!", stars: "{n} de 5",
  },
  fr: {
    openChat: "Ouvrir le chat", closeChat: "Fermer le chat", close: "Fermer", title: "Chat",
    greeting: "Bonjour ! Comment pouvons-nous vous aider ?", start: "Démarrer la conversation",
    connecting: "Connexion…", listening: "Connecté. À l’écoute",
    agentSpeaking: "L’agent parle", agentThinking: "L’agent réfléchit",
    reconnecting: "Connexion perdue. Reconnexion…", ended: "La conversation est terminée.",
    connectFailed: "Impossible de joindre le service vocal.",
    startFailed: "Impossible de démarrer la conversation : {detail}", retry: "Réessayer",
    cancel: "Annuler", newConversation: "Nouvelle conversation",
    notConnected: "Disponible une fois connecté", microphone: "Micro", camera: "Caméra",
    shareScreen: "Partager l’écran", endConversation: "Terminer la conversation",
    message: "Message", typeMessage: "Écrivez un message…", send: "Envoyer",
    sendFailed: "Le message n’a pas pu être envoyé.", micUnavailable: "Le micro n’est pas disponible.",
    cameraUnavailable: "La caméra n’est pas disponible.",
    screenUnavailable: "Le partage d’écran n’est pas disponible.", enableAudio: "Activer le son",
    transcript: "Transcription de la conversation", required: "« {label} » est obligatoire.",
    choose: "Choisir…", submit: "Envoyer", feedbackTitle: "Comment s’est passée la conversation ?",
    feedbackSend: "Envoyer", thanks: "Merci !", stars: "{n} sur 5",
  },
  de: {
    openChat: "Chat öffnen", closeChat: "Chat schließen", close: "Schließen", title: "Chat",
    greeting: "Hallo! Wie können wir helfen?", start: "Gespräch beginnen",
    connecting: "Verbinde…", listening: "Verbunden. Hört zu",
    agentSpeaking: "Der Agent spricht", agentThinking: "Der Agent denkt nach",
    reconnecting: "Verbindung verloren. Verbinde erneut…", ended: "Das Gespräch ist beendet.",
    connectFailed: "Keine Verbindung zum Sprachdienst.",
    startFailed: "Das Gespräch konnte nicht beginnen: {detail}", retry: "Erneut versuchen",
    cancel: "Abbrechen", newConversation: "Neues Gespräch",
    notConnected: "Verfügbar, sobald verbunden", microphone: "Mikrofon", camera: "Kamera",
    shareScreen: "Bildschirm teilen", endConversation: "Gespräch beenden",
    message: "Nachricht", typeMessage: "Nachricht eingeben…", send: "Senden",
    sendFailed: "Die Nachricht konnte nicht gesendet werden.",
    micUnavailable: "Das Mikrofon ist nicht verfügbar.",
    cameraUnavailable: "Die Kamera ist nicht verfügbar.",
    screenUnavailable: "Bildschirmfreigabe ist nicht verfügbar.", enableAudio: "Ton aktivieren",
    transcript: "Gesprächsverlauf", required: "„{label}“ ist erforderlich.",
    choose: "Auswählen…", submit: "Absenden", feedbackTitle: "Wie war das Gespräch?",
    feedbackSend: "Senden", thanks: "Danke!", stars: "{n} von 5",
  },
  pt: {
    openChat: "Abrir chat", closeChat: "Fechar chat", close: "Fechar", title: "Chat",
    greeting: "Olá! Como podemos ajudar?", start: "Iniciar conversa",
    connecting: "Conectando…", listening: "Conectado. Ouvindo",
    agentSpeaking: "O agente está falando", agentThinking: "O agente está pensando",
    reconnecting: "Conexão perdida. Reconectando…", ended: "A conversa terminou.",
    connectFailed: "Não foi possível conectar ao serviço de voz.",
    startFailed: "Não foi possível iniciar a conversa: {detail}", retry: "Tentar novamente",
    cancel: "Cancelar", newConversation: "Nova conversa",
    notConnected: "Disponível após conectar", microphone: "Microfone", camera: "Câmera",
    shareScreen: "Compartilhar tela", endConversation: "Encerrar conversa",
    message: "Mensagem", typeMessage: "Digite uma mensagem…", send: "Enviar",
    sendFailed: "Não foi possível enviar a mensagem.", micUnavailable: "O microfone não está disponível.",
    cameraUnavailable: "A câmera não está disponível.",
    screenUnavailable: "O compartilhamento de tela não está disponível.", enableAudio: "Ativar áudio",
    transcript: "Transcrição da conversa", required: "“{label}” é obrigatório.",
    choose: "Escolha…", submit: "Enviar", feedbackTitle: "Como foi a conversa?",
    feedbackSend: "Enviar", thanks: "Obrigado!", stars: "{n} de 5",
  },
  it: {
    openChat: "Apri la chat", closeChat: "Chiudi la chat", close: "Chiudi", title: "Chat",
    greeting: "Ciao! Come possiamo aiutarti?", start: "Inizia la conversazione",
    connecting: "Connessione…", listening: "Connesso. In ascolto",
    agentSpeaking: "L’agente sta parlando", agentThinking: "L’agente sta pensando",
    reconnecting: "Connessione persa. Riconnessione…", ended: "La conversazione è terminata.",
    connectFailed: "Impossibile connettersi al servizio vocale.",
    startFailed: "Impossibile avviare la conversazione: {detail}", retry: "Riprova",
    cancel: "Annulla", newConversation: "Nuova conversazione",
    notConnected: "Disponibile dopo la connessione", microphone: "Microfono", camera: "Fotocamera",
    shareScreen: "Condividi schermo", endConversation: "Termina conversazione",
    message: "Messaggio", typeMessage: "Scrivi un messaggio…", send: "Invia",
    sendFailed: "Impossibile inviare il messaggio.", micUnavailable: "Il microfono non è disponibile.",
    cameraUnavailable: "La fotocamera non è disponibile.",
    screenUnavailable: "La condivisione dello schermo non è disponibile.", enableAudio: "Attiva audio",
    transcript: "Trascrizione della conversazione", required: "«{label}» è obbligatorio.",
    choose: "Scegli…", submit: "Invia", feedbackTitle: "Com’è andata la conversazione?",
    feedbackSend: "Invia", thanks: "Grazie!", stars: "{n} su 5",
  },
  ja: {
    openChat: "チャットを開く", closeChat: "チャットを閉じる", close: "閉じる", title: "チャット",
    greeting: "こんにちは！ご用件をお聞かせください。", start: "会話を始める",
    connecting: "接続中…", listening: "接続しました。聞いています",
    agentSpeaking: "エージェントが話しています", agentThinking: "エージェントが考えています",
    reconnecting: "接続が切れました。再接続中…", ended: "会話は終了しました。",
    connectFailed: "音声サービスに接続できませんでした。",
    startFailed: "会話を開始できませんでした: {detail}", retry: "再試行",
    cancel: "キャンセル", newConversation: "新しい会話",
    notConnected: "接続後に利用できます", microphone: "マイク", camera: "カメラ",
    shareScreen: "画面を共有", endConversation: "会話を終了",
    message: "メッセージ", typeMessage: "メッセージを入力…", send: "送信",
    sendFailed: "メッセージを送信できませんでした。", micUnavailable: "マイクを使用できません。",
    cameraUnavailable: "カメラを使用できません。", screenUnavailable: "画面共有を使用できません。",
    enableAudio: "音声を有効にする", transcript: "会話の記録", required: "「{label}」は必須です。",
    choose: "選択…", submit: "送信", feedbackTitle: "会話はいかがでしたか？",
    feedbackSend: "送信", thanks: "ありがとうございました！", stars: "5段階中{n}",
  },
  ar: {
    openChat: "فتح المحادثة", closeChat: "إغلاق المحادثة", close: "إغلاق", title: "المحادثة",
    greeting: "مرحبًا! كيف يمكننا مساعدتك؟", start: "بدء المحادثة",
    connecting: "جارٍ الاتصال…", listening: "متصل. يستمع",
    agentSpeaking: "الوكيل يتحدث", agentThinking: "الوكيل يفكر",
    reconnecting: "انقطع الاتصال. جارٍ إعادة الاتصال…", ended: "انتهت المحادثة.",
    connectFailed: "تعذّر الاتصال بالخدمة الصوتية.",
    startFailed: "تعذّر بدء المحادثة: {detail}", retry: "إعادة المحاولة",
    cancel: "إلغاء", newConversation: "محادثة جديدة",
    notConnected: "متاح بعد الاتصال", microphone: "الميكروفون", camera: "الكاميرا",
    shareScreen: "مشاركة الشاشة", endConversation: "إنهاء المحادثة",
    message: "رسالة", typeMessage: "اكتب رسالة…", send: "إرسال",
    sendFailed: "تعذّر إرسال الرسالة.", micUnavailable: "الميكروفون غير متاح.",
    cameraUnavailable: "الكاميرا غير متاحة.", screenUnavailable: "مشاركة الشاشة غير متاحة.",
    enableAudio: "تفعيل الصوت", transcript: "نص المحادثة", required: "الحقل «{label}» مطلوب.",
    choose: "اختر…", submit: "إرسال", feedbackTitle: "كيف كانت المحادثة؟",
    feedbackSend: "إرسال", thanks: "شكرًا لك!", stars: "{n} من 5",
  },
};

const RTL = new Set(["ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ug", "ckb"]);
const TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

function base(tag) {
  return tag.split("-")[0].toLowerCase();
}

// {locale, table, dir}: locale is the tag the widget uses and sends to the agent (a built-in
// language, the configured tag, or "en"); table the built-in strings for it (empty: English).
export function resolveLocale(configured, requested, browserLanguages) {
  const candidates = [configured, requested, ...(browserLanguages || [])].filter((tag) => tag && TAG.test(tag));
  // A fixed locale is used even without a table (the agent may speak it); else the first
  // browser language with a table, else the first one given, else English.
  const chosen = configured && TAG.test(configured)
    ? configured
    : candidates.find((tag) => base(tag) === "en" || TABLES[base(tag)]) || candidates[0] || "en";
  return { locale: chosen, table: TABLES[base(chosen)] || {}, dir: RTL.has(base(chosen)) ? "rtl" : "ltr" };
}

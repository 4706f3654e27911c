/* Topicdesk web chat widget: one script tag, plain JavaScript, no dependencies, no build step.
 * The wire contract with the WebSocket API is docs/widget-protocol.md; keep both in step.
 *
 *   <script src=".../widget.js" async data-key="<widget key>" data-url="wss://<api>/<stage>"></script>
 *
 * Everything lives in a shadow root, so the host page's CSS cannot reach the widget's elements
 * and the widget's CSS cannot leak into the page. */
(function () {
  "use strict";

  var script =
    document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!script || window.__topicdeskWidget) return;
  var KEY = script.getAttribute("data-key") || "";
  var URL_BASE = script.getAttribute("data-url") || "";
  if (!KEY || !URL_BASE) {
    console.error("Topicdesk widget: data-key and data-url are required");
    return;
  }
  window.__topicdeskWidget = true;
  var TITLE = script.getAttribute("data-title") || "Chat with us";

  // Limits from the protocol: a frame is at most 16 KiB, a text 1-4096 characters.
  var MAX_FRAME = 16384;
  var MAX_TEXT = 4096;
  var EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/; // the server's check: the browser's allows "a@b"
  // Backoff: quick while we know the API answered before (a dropped connection), slow when no
  // connection has opened yet (a refused handshake looks the same as an unreachable server).
  var FAST = { base: 1000, cap: 30000 };
  var SLOW = { base: 30000, cap: 600000 };

  /* ---------- storage: localStorage may be missing or full; the widget still works ---------- */
  var PREFIX = "topicdesk:" + KEY + ":";
  function load(name, fallback) {
    try {
      var raw = localStorage.getItem(PREFIX + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }
  function save(name, value) {
    try {
      if (value === null) localStorage.removeItem(PREFIX + name);
      else localStorage.setItem(PREFIX + name, JSON.stringify(value));
    } catch (e) {
      /* private mode or quota: the session lasts as long as the page */
    }
  }
  function openFlag(value) {
    try {
      if (value === undefined) return sessionStorage.getItem(PREFIX + "open") === "1";
      sessionStorage.setItem(PREFIX + "open", value ? "1" : "0");
    } catch (e) {
      return false;
    }
  }

  /* ---------- the DOM, inside a shadow root ---------- */
  var CSS =
    ":host{all:initial}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483646;display:flex;" +
    "align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:999px;" +
    "background:#1f5fd6;color:#fff;font-size:16px;font-weight:600;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".launcher:hover{background:#174cb0}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible,.log:focus-visible" +
    "{outline:3px solid #f5a623;outline-offset:2px}" +
    ".badge{min-width:22px;padding:2px 6px;border-radius:11px;background:#d62f1f;" +
    "font-size:13px;text-align:center}" +
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483647;display:flex;" +
    "flex-direction:column;width:370px;height:min(560px,calc(100vh - 104px));" +
    "background:#fff;color:#1b1b1b;border-radius:14px;overflow:hidden;font-size:15px;" +
    "line-height:1.4;box-shadow:0 8px 30px rgba(0,0,0,.3)}" +
    "[hidden]{display:none!important}" +
    "header{display:flex;align-items:center;justify-content:space-between;padding:12px 16px;" +
    "background:#1f5fd6;color:#fff}" +
    "h2{margin:0;font-size:17px}" +
    ".close{border:0;background:transparent;color:#fff;font-size:24px;line-height:1;" +
    "cursor:pointer;padding:4px 8px;border-radius:6px}" +
    ".status{margin:0;padding:8px 16px;background:#fff4d6;color:#5a4300;font-size:14px}" +
    ".status.bad{background:#fde2e0;color:#7a1a10}" +
    ".status button{margin-left:8px;font-size:14px}" +
    ".log{flex:1;margin:0;padding:12px 16px;overflow-y:auto;list-style:none;" +
    "display:flex;flex-direction:column;gap:8px}" +
    ".empty{color:#555;font-size:14px}" +
    ".msg{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;" +
    "overflow-wrap:anywhere}" +
    ".visitor{align-self:flex-end;background:#1f5fd6;color:#fff;border-bottom-right-radius:4px}" +
    ".operator{align-self:flex-start;background:#eef0f4;border-bottom-left-radius:4px}" +
    ".meta{display:block;margin-top:2px;font-size:12px;opacity:.8}" +
    ".failed{background:#a8281b}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);" +
    "white-space:nowrap}" +
    "form{display:flex;flex-direction:column;gap:6px;padding:10px 16px 14px;" +
    "border-top:1px solid #e2e4e8}" +
    "label{font-size:13px;color:#333}" +
    "textarea,input{width:100%;padding:8px 10px;border:1px solid #9aa0aa;border-radius:8px;" +
    "font-size:15px;color:#1b1b1b;background:#fff}" +
    "textarea{resize:none;height:64px}" +
    "[aria-invalid=true]{border-color:#a8281b}" +
    ".row{display:flex;gap:8px;align-items:flex-end}" +
    ".row div{flex:1}" +
    ".send{padding:9px 18px;border:0;border-radius:8px;background:#1f5fd6;color:#fff;" +
    "font-size:15px;font-weight:600;cursor:pointer}" +
    "button:disabled,textarea:disabled,input:disabled{opacity:.55;cursor:not-allowed}" +
    // Phones: the panel takes the whole screen, the launcher hides behind it.
    "@media (max-width:480px){.panel{inset:0;right:0;bottom:0;width:100%;height:100%;" +
    "height:100dvh;border-radius:0}.launcher{right:12px;bottom:12px}}" +
    "@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}";

  var host = document.createElement("topicdesk-chat");
  host.setAttribute("style", "all:initial!important;display:block!important");
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    CSS +
    "</style>" +
    '<button type="button" class="launcher" aria-haspopup="dialog" aria-expanded="false"' +
    ' aria-controls="panel"><span class="ltext"></span>' +
    '<span class="badge" hidden></span></button>' +
    '<section class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>' +
    '<header><h2 id="title"></h2>' +
    '<button type="button" class="close" aria-label="Close chat">×</button></header>' +
    '<p class="status" role="status" hidden><span></span>' +
    '<button type="button" class="retry" hidden>Try again</button></p>' +
    '<ol class="log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0">' +
    '<li class="empty">Write us a message: we answer right here.</li></ol>' +
    '<form novalidate><label for="text">Your message</label>' +
    '<div class="row"><div><textarea id="text" name="text" required' +
    ' aria-describedby="hint"></textarea></div>' +
    '<button type="submit" class="send">Send</button></div>' +
    '<span id="hint" class="sr">Enter sends, Shift+Enter starts a new line.</span>' +
    '<label for="email">E-mail (optional, if you want us to write back)</label>' +
    '<input id="email" name="email" type="email" autocomplete="email"></form></section>';

  function $(selector) {
    return root.querySelector(selector);
  }
  var launcher = $(".launcher");
  var badge = $(".badge");
  var panel = $(".panel");
  var statusBox = $(".status");
  var statusText = $(".status span");
  var retryButton = $(".retry");
  var log = $(".log");
  var form = $("form");
  var textBox = $("#text");
  var emailBox = $("#email");
  var sendButton = $(".send");
  $(".ltext").textContent = TITLE;
  $("#title").textContent = TITLE;
  emailBox.value = load("email", "") || "";

  /* ---------- the conversation ---------- */
  var shown = {}; // "<from>:<id>" -> <li>
  var unread = 0;
  var seenTs = load("seen", 0) || 0; // the newest answer the visitor has had the panel open for

  function clock(ts) {
    try {
      return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return "";
    }
  }

  // Adds a message, or updates the state line of one already shown (a resend, a reconnect).
  function show(message, state) {
    var from = message.from === "operator" ? "operator" : "visitor";
    var key = from + ":" + message.id;
    var item = shown[key];
    var empty = log.querySelector(".empty");
    if (empty) empty.remove();
    if (!item) {
      item = document.createElement("li");
      item.className = "msg " + from;
      var who = document.createElement("span");
      who.className = "sr";
      who.textContent = from === "operator" ? "Support: " : "You: ";
      var text = document.createElement("span");
      text.textContent = message.text;
      var meta = document.createElement("span");
      meta.className = "meta";
      item.append(who, text, meta);
      shown[key] = item;
      log.appendChild(item);
      log.scrollTop = log.scrollHeight;
      if (from === "operator" && (message.ts || 0) > seenTs) {
        if (panel.hidden) unread += 1;
        else seen(message.ts);
        renderBadge();
      }
    }
    var line = clock(message.ts || Date.now());
    if (state === "sending") line += " · sending…";
    else if (state === "waiting") line += " · waiting to send…";
    else if (state && state.indexOf("failed") === 0) line += " · not sent: " + state.slice(7);
    item.querySelector(".meta").textContent = line;
    item.classList.toggle("failed", !!state && state.indexOf("failed") === 0);
    item.setAttribute("data-state", state || "delivered");
    item.setAttribute("data-ts", String(message.ts || 0));
    return item;
  }

  function seen(ts) {
    seenTs = Math.max(seenTs, ts || 0);
    save("seen", seenTs);
  }

  function clearConversation() {
    shown = {};
    log.textContent = "";
  }

  function renderBadge() {
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    launcher.setAttribute(
      "aria-label",
      unread ? TITLE + " (" + unread + " new message" + (unread > 1 ? "s" : "") + ")" : TITLE
    );
  }

  /* ---------- connection state shown to the visitor ---------- */
  var state = "idle"; // idle | connecting | ready | offline | unavailable

  function setState(next, text, retry) {
    state = next;
    statusBox.hidden = !text;
    statusBox.classList.toggle("bad", next === "unavailable");
    statusText.textContent = text || "";
    retryButton.hidden = !retry;
    host.setAttribute("data-state", next);
    var off = next === "unavailable";
    textBox.disabled = off;
    emailBox.disabled = off;
    sendButton.disabled = off;
    // A disabled text box drops the focus: give it to the way out instead of the page's body.
    var lost = document.activeElement === document.body || document.activeElement === host;
    if (off && !panel.hidden && lost && !(root.activeElement && !root.activeElement.disabled)) {
      (retry ? retryButton : $(".close")).focus();
    }
  }

  /* ---------- the WebSocket ---------- */
  var ws = null;
  var ready = false; // welcome received on the current socket
  var everWelcomed = false; // since this page loaded
  var attempt = 0;
  var reconnectTimer = null;
  var rateTimer = null;
  var pauseUntil = 0; // the server asked for a pause (retryAfter): no reconnect before it
  var inflight = null; // the pending message sent and not yet acknowledged
  var pending = load("pending", []); // [{id, text, email, ts}], oldest first
  if (!Array.isArray(pending)) pending = [];

  function persist() {
    save("pending", pending.length ? pending : null);
  }

  function newId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b + 256).toString(16).slice(1);
      })
      .join("");
  }

  function socketUrl() {
    return URL_BASE + (URL_BASE.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(KEY);
  }

  function frame(body) {
    var data = JSON.stringify(body);
    if (new TextEncoder().encode(data).length > MAX_FRAME) return null;
    return data;
  }

  function transmit(body) {
    var data = frame(body);
    if (data && ws && ws.readyState === WebSocket.OPEN) ws.send(data);
    return !!data;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    if (state !== "unavailable") setState("connecting", everWelcomed ? "Reconnecting…" : "");
    var socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (e) {
      setState("unavailable", "Chat is unavailable (the widget is misconfigured).");
      return;
    }
    ws = socket;
    socket.onopen = function () {
      hello();
    };
    socket.onmessage = function (event) {
      if (socket === ws) receive(event.data);
    };
    socket.onclose = function (event) {
      if (socket !== ws) return;
      ws = null;
      ready = false;
      inflight = null;
      retryLater(event.code);
    };
  }

  function hello() {
    var page = {
      url: String(location.href).slice(0, 2048),
      language: String(navigator.language || "").slice(0, 35),
      userAgent: String(navigator.userAgent).slice(0, 512),
    };
    transmit({ action: "hello", session: load("session", null), page: page });
  }

  function retryLater(code) {
    var slow = !everWelcomed || code === 1008;
    var plan = slow ? SLOW : FAST;
    var delay = Math.min(plan.cap, plan.base * Math.pow(2, attempt));
    delay = delay / 2 + (Math.random() * delay) / 2; // jitter: many visitors, one outage
    delay = Math.max(delay, pauseUntil - Date.now());
    attempt += 1;
    var seconds = Math.ceil(delay / 1000);
    if (!everWelcomed) {
      setState("unavailable", "Chat is unavailable right now. Please try again later.", true);
    } else if (code === 1008) {
      setState("offline", "Too many messages at once. Reconnecting in " + seconds + " s…", true);
    } else if (!navigator.onLine) {
      setState("offline", "You are offline. The chat reconnects when you are back online.", true);
    } else {
      setState("offline", "Connection lost. Reconnecting in " + seconds + " s…", true);
    }
    reconnectTimer = setTimeout(connect, delay);
  }

  function receive(data) {
    var message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "welcome") welcome(message);
    else if (message.type === "ack") acknowledged(message.id);
    else if (message.type === "message") show(message);
    else if (message.type === "error") failed(message);
  }

  function welcome(message) {
    // A new session (the server started one) is a new conversation: drop what was shown.
    var before = String(load("session", "") || "").split(".")[0];
    if (typeof message.session === "string") {
      if (before && message.session.split(".")[0] !== before) clearConversation();
      save("session", message.session);
    }
    ready = true;
    everWelcomed = true;
    attempt = 0;
    setState("ready", "");
    var seen = {};
    (message.messages || []).forEach(function (m) {
      show(m);
      if (m.from === "visitor") seen[m.id] = true;
    });
    // A message the server took before the ack got lost is already in the conversation.
    pending = pending.filter(function (p) {
      return !seen[p.id];
    });
    persist();
    pending.forEach(function (p) {
      log.appendChild(show({ id: p.id, from: "visitor", text: p.text, ts: p.ts }, "sending"));
    });
    pump();
  }

  // One message in flight at a time keeps the visitor's order and stays under the rate limit.
  function pump() {
    if (!ready || inflight || rateTimer || !pending.length) return;
    inflight = pending[0];
    var body = { action: "send", id: inflight.id, text: inflight.text };
    if (inflight.email) body.email = inflight.email;
    mark(inflight.id, "sending");
    if (!transmit(body)) drop(inflight.id, "too long");
  }

  function mark(id, how) {
    pending.forEach(function (p) {
      if (p.id === id) show({ id: p.id, from: "visitor", text: p.text, ts: p.ts }, how);
    });
  }

  function acknowledged(id) {
    var message = null;
    pending = pending.filter(function (p) {
      if (p.id === id) message = p;
      return p.id !== id;
    });
    persist();
    if (message) show({ id: id, from: "visitor", text: message.text, ts: message.ts }, "");
    if (inflight && inflight.id === id) inflight = null;
    pump();
  }

  function drop(id, why) {
    var message = null;
    pending = pending.filter(function (p) {
      if (p.id === id) message = p;
      return p.id !== id;
    });
    persist();
    if (message) show({ id: id, from: "visitor", text: message.text, ts: message.ts }, "failed " + why);
    if (inflight && inflight.id === id) inflight = null;
    pump();
  }

  function failed(error) {
    var code = error.code;
    var id = error.id || (inflight && inflight.id);
    var hopeless = code === "invalid" || code === "bad_frame" || code === "unknown_action";
    if (code === "session_invalid") {
      // A forged, expired or unknown token: start a new session, keep what is unsent.
      save("session", null);
      clearConversation();
      ready = false;
      inflight = null;
      hello();
    } else if (code === "not_ready") {
      // A send before the welcome, or a connection the server forgot: hello, then resend.
      ready = false;
      inflight = null;
      hello();
    } else if (code === "banned") {
      // The operators blocked this visitor: say so plainly; resending would not help.
      if (id) drop(id, "this chat no longer accepts your messages");
    } else if (hopeless && !ready) {
      // The hello itself was refused: the same hello would fail the same way, so no tight
      // loop; the close schedules a slow retry and shows "unavailable".
      if (ws) ws.close();
    } else if (hopeless) {
      if (id) drop(id, error.message || code);
    } else {
      // rate_limited, unavailable and any code this widget does not know: nothing was
      // accepted, the same id goes again after retryAfter (docs/widget-protocol.md).
      var wait = Math.max(1, Number(error.retryAfter) || 5) * 1000;
      pauseUntil = Date.now() + wait;
      if (!ready) return setTimeout(hello, wait);
      if (id) mark(id, "waiting");
      inflight = null;
      clearTimeout(rateTimer);
      rateTimer = setTimeout(function () {
        rateTimer = null;
        pump();
      }, wait);
    }
  }

  /* ---------- the visitor's actions ---------- */
  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    openFlag(true);
    unread = 0;
    renderBadge();
    // Only answers count: they carry the server's clock, the visitor's own bubbles the page's.
    Object.keys(shown).forEach(function (key) {
      if (key.indexOf("operator:") === 0) seen(Number(shown[key].getAttribute("data-ts")));
    });
    log.scrollTop = log.scrollHeight;
    (textBox.disabled ? $(".close") : textBox).focus();
    if (!ws && state !== "unavailable" && state !== "offline") connect();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    openFlag(false);
    launcher.focus();
  }

  function submit(event) {
    event.preventDefault();
    var text = textBox.value.trim();
    var email = emailBox.value.trim();
    textBox.removeAttribute("aria-invalid");
    emailBox.removeAttribute("aria-invalid");
    if (!text) {
      textBox.setAttribute("aria-invalid", "true");
      return textBox.focus();
    }
    if (Array.from(text).length > MAX_TEXT) {
      textBox.setAttribute("aria-invalid", "true");
      setState(state, "Your message is too long (at most " + MAX_TEXT + " characters).");
      return textBox.focus();
    }
    if (email && (!emailBox.checkValidity() || !EMAIL.test(email) || email.length > 254)) {
      emailBox.setAttribute("aria-invalid", "true");
      setState(state, "Please check the e-mail address, or leave it empty.");
      return emailBox.focus();
    }
    if (state === "ready") setState("ready", "");
    save("email", email || null);
    var message = { id: newId(), text: text, ts: Date.now() };
    if (email) message.email = email;
    pending.push(message);
    persist();
    show({ id: message.id, from: "visitor", text: text, ts: message.ts }, "sending");
    textBox.value = "";
    textBox.focus();
    if (!ws) connect();
    pump();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open();
    else close();
  });
  $(".close").addEventListener("click", close);
  retryButton.addEventListener("click", function () {
    attempt = 0;
    if (ready) return setState("ready", "");
    setState("connecting", "Connecting…");
    textBox.focus();
    connect();
  });
  form.addEventListener("submit", submit);
  textBox.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      event.stopPropagation();
      close();
    }
  });
  window.addEventListener("online", function () {
    if (ready) setState("ready", "");
    else if (!ws && state === "offline") {
      attempt = 0;
      connect();
    }
  });
  window.addEventListener("offline", function () {
    if (!ready) return;
    setState("offline", "You are offline. The chat reconnects when you are back online.", true);
  });

  function start() {
    document.body.appendChild(host);
    renderBadge();
    // Connect at once only for a visitor who already has a conversation (answers waiting);
    // a new visitor connects when they open the panel.
    if (openFlag()) open();
    else if (load("session", null) || pending.length) connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();

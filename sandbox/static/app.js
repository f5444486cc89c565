/* The sandbox page: a small Telegram-like client over the project's Bot API emulator.
 *
 * It acts as whichever emulated user you pick (POST /api/...) and learns about every change
 * from one Server-Sent Events stream (/api/events): a snapshot first, then each new or edited
 * message, chat change and clock jump. Everything anybody typed, and everything the bot sent,
 * is put on the page with textContent / createElement: the bot's formatting arrives as
 * Telegram entities and is rebuilt as elements, so no text ever becomes markup.
 */
"use strict";

(() => {
  const T = {
    zh: {
      banner_title: "沙盒",
      banner: "这里的一切都只在这台电脑上模拟，从不连接真正的 Telegram。",
      you_are: "我是",
      new_visitor: "＋ 新访客",
      sandbox_time: "沙盒时间",
      jump_hour: "+1 小时",
      jump_day: "+1 天",
      jump_digest: "到下{weekday} {time}",
      weekdays: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
      role_secretary: "书记",
      role_worker: "社区工作者",
      role_building_lead: "楼栋长",
      role_volunteer: "志愿者",
      role_resident: "居民",
      role_none: "还没加入社区",
      group_staff: "工作人员",
      group_residents: "居民",
      group_others: "其他人",
      private_chat: "与机器人的私聊",
      members: "{n} 位成员",
      placeholder: "写消息…",
      send: "发送",
      edited: "已编辑",
      reply: "回复",
      photo: "照片",
      voice: "语音消息",
      location: "位置",
      document: "文件",
      contact: "联系人",
      sticker: "贴纸",
      attach: "发送照片或文件",
      commands: "命令菜单",
      joined: "{names} 加入了群聊",
      left: "{names} 离开了群聊",
      title_changed: "群名改为 {names}",
      open_link_as: "用谁的身份打开这个邀请链接？",
      open_link_external: "这个链接在沙盒之外，要打开吗？\n{url}",
      ok: "好",
      cancel: "取消",
      jumped: "沙盒时间已到 {time}，新排入 {n} 条提醒。",
      no_messages: "还没有消息。发一条试试，比如 /start",
      visitor_name: "新访客 {n}",
      reconnecting: "与沙盒的连接断了，正在重连…",
      button_unsupported: "这种按钮在沙盒里不可用。",
      err_not_a_member: "你不在这个群里。",
      err_no_answer: "机器人没有回应这个按钮。",
      err_too_long: "消息太长了（最多 4096 个字符）。",
      err_caption_too_long: "说明文字太长了（最多 1024 个字符）。",
      err_empty: "消息是空的。",
      err_generic: "出错了：{code}",
      picker_hint: "先在上面选一个身份。",
      how_to: "怎么玩？",
      welcome_title: "欢迎来到社区民情本的沙盒",
      welcome_intro:
        "这是一个模拟的小区：邢家桥社区。挑一个人，用他的“手机”试一试。这里的一切都只在这台电脑上模拟。",
      welcome_be: "当{name}",
      welcome_close: "我自己看看",
      role_xu: "居民，七十多岁，住1栋",
      try_xu: "试试：发一句“楼道灯坏了”，或者点输入框旁的定位按钮发位置。",
      role_wang: "社区工作者（网格员）",
      try_wang: "试试：打开“邢家桥社区工作群”，在问题卡片上点“认领”。",
      role_xie: "社区书记",
      try_xie: "试试：点上面的“到下周一 08:00”，收每周的民情周报和图表。",
      role_anna: "说英语的居民",
      try_anna: "试试：发 /my 看她反映的问题。",
    },
    en: {
      banner_title: "Sandbox",
      banner: "Everything here is simulated on this computer. It never talks to the real Telegram.",
      you_are: "I am",
      new_visitor: "+ New visitor",
      how_to: "How to try it",
      welcome_title: "Welcome to the Community Notebook sandbox",
      welcome_intro:
        "This is a make-believe neighbourhood, 邢家桥社区. Pick someone and try the notebook on their “phone”. Everything here is simulated on this computer.",
      welcome_be: "Be {name}",
      welcome_close: "I'll look around",
      role_xu: "a resident in his seventies, building 1",
      try_xu: "Try: write “楼道灯坏了” (the stairwell light is out), or press the pin by the text box to send a location.",
      role_wang: "a community (grid) worker",
      try_wang: "Try: open the staff group 邢家桥社区工作群 and press 认领 (Claim) on an issue card.",
      role_xie: "the community secretary",
      try_xie: "Try: press “to Monday 08:00” above for the weekly digest and its chart.",
      role_anna: "an English-speaking resident",
      try_anna: "Try: send /my to see her issues.",
      sandbox_time: "Sandbox time",
      jump_hour: "+1 hour",
      jump_day: "+1 day",
      jump_digest: "To next {weekday} {time}",
      weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
      role_secretary: "secretary",
      role_worker: "community worker",
      role_building_lead: "building lead",
      role_volunteer: "volunteer",
      role_resident: "resident",
      role_none: "not in a community yet",
      group_staff: "Staff",
      group_residents: "Residents",
      group_others: "Others",
      private_chat: "private chat with the bot",
      members: "{n} members",
      placeholder: "Message…",
      send: "Send",
      edited: "edited",
      reply: "Reply",
      photo: "Photo",
      voice: "Voice message",
      location: "Location",
      document: "File",
      contact: "Contact",
      sticker: "Sticker",
      attach: "Send a photo or a file",
      commands: "Commands",
      joined: "{names} joined the group",
      left: "{names} left the group",
      title_changed: "The group is now called {names}",
      open_link_as: "Open this invitation link as whom?",
      open_link_external: "This link leads outside the sandbox. Open it?\n{url}",
      ok: "OK",
      cancel: "Cancel",
      jumped: "Sandbox time is now {time}; {n} new reminders queued.",
      no_messages: "No messages yet. Try sending /start",
      visitor_name: "Visitor {n}",
      reconnecting: "Lost the connection to the sandbox; reconnecting…",
      button_unsupported: "This kind of button does not work in the sandbox.",
      err_not_a_member: "You are not in this group.",
      err_no_answer: "The bot did not answer this button.",
      err_too_long: "The message is too long (4096 characters at most).",
      err_caption_too_long: "The caption is too long (1024 characters at most).",
      err_empty: "The message is empty.",
      err_generic: "Something went wrong: {code}",
      picker_hint: "Pick who you are above first.",
    },
  };
  const PRESENT = ["creator", "administrator", "member", "restricted"];
  // The first visitor's greeting: who to be, and what to try as them.
  const WELCOME = [
    { name: "老许", role: "role_xu", try: "try_xu" },
    { name: "王网格", role: "role_wang", try: "try_wang" },
    { name: "谢兰", role: "role_xie", try: "try_xie" },
    { name: "Anna Weber", role: "role_anna", try: "try_anna" },
  ];
  const STAFF = ["secretary", "worker"];
  const SAFE_URL = /^(https?:|tg:|mailto:)/i;

  const S = {
    lang: localStorage.getItem("sandbox-lang") === "en" ? "en" : "zh",
    bot: null,
    clock: null,
    clockReceivedAt: 0,
    commands: {},
    chats: new Map(), // id -> {id, type, title, members, reply_keyboard, messages: Map}
    people: [],
    me: null,
    chatId: null,
    replyTo: null,
    unread: new Map(),
    hiddenKeyboard: new Map(), // chat id -> keyboard (JSON) hidden after a one-time tap
    connected: false,
  };

  const $ = (id) => document.getElementById(id);

  function t(key, values) {
    let text = (T[S.lang] && T[S.lang][key]) ?? T.zh[key] ?? key;
    if (values && typeof text === "string") {
      for (const [name, value] of Object.entries(values)) {
        text = text.split(`{${name}}`).join(String(value));
      }
    }
    return text;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- talking to the sandbox ---------------------------------------------------------------

  async function api(path, body, isForm) {
    const headers = { "X-Sandbox-Client": "1" };
    if (!isForm) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: "POST",
      headers,
      body: isForm ? body : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error || String(response.status));
      error.code = data.error || String(response.status);
      throw error;
    }
    return data;
  }

  function showError(error) {
    const key = `err_${error.code}`;
    toast(T[S.lang][key] ? t(key) : t("err_generic", { code: error.code || error.message }));
  }

  async function loadPeople() {
    const response = await fetch("/api/people");
    const data = await response.json();
    S.people = data.people;
    if (S.me === null || !S.people.some((p) => p.id === S.me)) {
      const fromHash = Number(new URLSearchParams(location.hash.slice(1)).get("user"));
      const preferred =
        S.people.find((p) => p.id === fromHash) ||
        S.people.find((p) => p.role === "resident") ||
        S.people[0];
      if (preferred) setIdentity(preferred.id, Number(new URLSearchParams(location.hash.slice(1)).get("chat")) || null);
    }
    renderIdentity();
    renderChatHeader();
    if (!S.greeted) {
      S.greeted = true;
      if (!localStorage.getItem("sandbox-welcomed")) showWelcome();
    }
  }

  function showWelcome() {
    const box = $("welcome");
    $("welcome-title").textContent = t("welcome_title");
    $("welcome-intro").textContent = t("welcome_intro");
    $("welcome-close").textContent = t("welcome_close");
    const roles = WELCOME.map((entry) => {
      const who = S.people.find((p) => p.name === entry.name);
      if (!who) return null;
      const item = el("div", "welcome-role");
      const words = el("div", "welcome-words");
      words.append(el("b", null, entry.name), el("span", "muted", ` · ${t(entry.role)}`));
      words.append(el("div", "welcome-try", t(entry.try)));
      const be = el("button", "welcome-be", t("welcome_be", { name: entry.name }));
      be.type = "button";
      be.addEventListener("click", () => {
        box.close();
        setIdentity(who.id, null);
      });
      item.append(words, be);
      return item;
    });
    $("welcome-roles").replaceChildren(...roles.filter(Boolean));
    if (!box.open) box.showModal();
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("snapshot", (event) => {
      applySnapshot(JSON.parse(event.data));
      S.connected = true;
      document.body.dataset.connected = "1";
    });
    source.addEventListener("message", (event) => upsertMessage(JSON.parse(event.data)));
    source.addEventListener("chat", (event) => upsertChat(JSON.parse(event.data)));
    source.addEventListener("clock", (event) => setClock(JSON.parse(event.data)));
    source.addEventListener("users", () => loadPeople());
    source.addEventListener("error", () => {
      if (S.connected) toast(t("reconnecting"));
      S.connected = false;
      delete document.body.dataset.connected;
    });
  }

  // --- state --------------------------------------------------------------------------------

  function applySnapshot(snapshot) {
    S.bot = snapshot.bot;
    S.commands = snapshot.commands || {};
    S.chats.clear();
    for (const chat of snapshot.chats) {
      const messages = new Map();
      for (const message of chat.messages) messages.set(message.id, message);
      S.chats.set(chat.id, { ...chat, messages });
    }
    setClock(snapshot.clock);
    loadPeople();
    renderAll();
  }

  function upsertChat(view) {
    const known = S.chats.get(view.id);
    S.chats.set(view.id, { ...view, messages: known ? known.messages : new Map() });
    if (view.id === S.chatId) {
      if (!known) renderMessages(); // a newcomer's chat, opened before the stream told us of it
      renderKeyboard();
      renderChatHeader();
    }
    renderChatList();
  }

  function upsertMessage(view) {
    let chat = S.chats.get(view.chat_id);
    if (!chat) return;
    const isNew = !chat.messages.has(view.id);
    chat.messages.set(view.id, view);
    if (view.chat_id === S.chatId) {
      renderMessage(view);
      if (isNew && view.force_reply && view.from.is_bot) setReplyTo(view);
      if (isNew && view.from.is_bot) refreshPeopleSoon(); // a bot answer may mean a new role
    } else if (isNew && !view.deleted && view.from.id !== S.me && canSee(chat)) {
      S.unread.set(chat.id, (S.unread.get(chat.id) || 0) + 1);
    }
    renderChatList();
  }

  let peopleTimer = null;
  function refreshPeopleSoon() {
    clearTimeout(peopleTimer);
    peopleTimer = setTimeout(loadPeople, 400);
  }

  function canSee(chat) {
    if (S.me === null) return false;
    if (chat.type === "private") return chat.id === S.me;
    return PRESENT.includes(chat.members[String(S.me)]);
  }

  function myChats() {
    const mine = [...S.chats.values()].filter(canSee);
    mine.sort((a, b) => (a.type === "private" ? -1 : 0) - (b.type === "private" ? -1 : 0));
    return mine;
  }

  function setIdentity(id, chatId) {
    S.me = id;
    const chats = myChats();
    const wanted = chats.find((c) => c.id === chatId);
    S.chatId = wanted ? wanted.id : S.me;
    S.replyTo = null;
    S.unread.delete(S.chatId);
    writeHash();
    renderAll();
  }

  function openChat(chatId) {
    S.chatId = chatId;
    S.replyTo = null;
    S.unread.delete(chatId);
    writeHash();
    renderAll();
    $("text").focus();
  }

  function writeHash() {
    history.replaceState(null, "", `#user=${S.me}&chat=${S.chatId}`);
  }

  function person(id) {
    return S.people.find((p) => p.id === id);
  }

  function myLanguageCommands() {
    const me = person(S.me);
    const code = (me && me.language_code) || "";
    const short = code.slice(0, 2);
    return S.commands[short] || S.commands[""] || [];
  }

  // --- the clock ----------------------------------------------------------------------------

  function setClock(clock) {
    S.clock = clock;
    S.clockReceivedAt = Date.now();
    renderClock();
  }

  function clockNow() {
    if (!S.clock) return null;
    const elapsed = S.clock.follows_real_time ? Date.now() - S.clockReceivedAt : 0;
    return new Date(S.clock.epoch_ms + elapsed);
  }

  function locale() {
    return S.lang === "zh" ? "zh-CN" : "en-GB";
  }

  function timeZone() {
    return (S.clock && S.clock.timezone) || undefined;
  }

  function formatClock(date) {
    return new Intl.DateTimeFormat(locale(), {
      timeZone: timeZone(),
      month: "short",
      day: "numeric",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    }).format(date);
  }

  function renderClock() {
    const now = clockNow();
    if (!now) return;
    const node = $("clock-now");
    node.textContent = formatClock(now);
    node.dateTime = now.toISOString();
    const weekday = t("weekdays")[S.clock.digest_weekday] || "";
    $("jump-digest").textContent = t("jump_digest", { weekday, time: S.clock.digest_time });
  }

  async function jump(kind, button) {
    const buttons = document.querySelectorAll(".jump");
    buttons.forEach((b) => (b.disabled = true));
    try {
      const result = await api("/api/clock", { jump: kind });
      setClock(result.clock);
      toast(t("jumped", { time: formatClock(clockNow()), n: result.queued }));
    } catch (error) {
      showError(error);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      button.blur();
    }
  }

  // --- rendering ----------------------------------------------------------------------------

  function renderAll() {
    renderStatic();
    renderIdentity();
    renderChatList();
    renderChatHeader();
    renderMessages();
    renderKeyboard();
    renderReplyBar();
    renderClock();
  }

  function renderStatic() {
    document.documentElement.lang = S.lang === "zh" ? "zh-Hans" : "en";
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      node.textContent = t(node.dataset.i18n);
    });
    document.querySelectorAll("[data-i18n-title]").forEach((node) => {
      node.title = t(node.dataset.i18nTitle);
      node.setAttribute("aria-label", node.title);
    });
    $("lang-toggle").textContent = S.lang === "zh" ? "English" : "中文";
    $("lang-toggle").lang = S.lang === "zh" ? "en" : "zh-Hans";
  }

  function roleLabel(p) {
    return t(`role_${p.role || "none"}`);
  }

  function personLabel(p) {
    const parts = [p.name, roleLabel(p)];
    if (p.building) parts.push(p.building);
    return parts.join(" · ");
  }

  function renderIdentity() {
    const select = $("identity");
    select.replaceChildren();
    const groups = [
      ["group_staff", S.people.filter((p) => STAFF.includes(p.role))],
      ["group_residents", S.people.filter((p) => p.role && !STAFF.includes(p.role))],
      ["group_others", S.people.filter((p) => !p.role)],
    ];
    for (const [label, members] of groups) {
      if (!members.length) continue;
      const group = el("optgroup");
      group.label = t(label);
      for (const p of members) {
        const option = el("option", null, personLabel(p));
        option.value = String(p.id);
        option.selected = p.id === S.me;
        group.append(option);
      }
      select.append(group);
    }
  }

  function lastMessage(chat) {
    let last = null;
    for (const message of chat.messages.values()) {
      if (!message.deleted && (!last || message.id > last.id)) last = message;
    }
    return last;
  }

  function previewText(message) {
    if (!message) return "";
    if (message.text) return message.text.split("\n")[0];
    if (message.media) return t(message.media.kind);
    return "";
  }

  function renderChatList() {
    const list = $("chat-list");
    list.replaceChildren();
    for (const chat of myChats()) {
      const item = el("button", "chat-item");
      item.type = "button";
      item.dataset.chatId = String(chat.id);
      item.dataset.testid = "chat-item";
      if (chat.id === S.chatId) item.classList.add("active");
      const avatar = el("div", chat.type === "private" ? "avatar" : "avatar group", chat.title.slice(0, 1));
      const names = el("div", "names");
      names.append(el("div", "title", chat.title));
      names.append(el("div", "preview muted", previewText(lastMessage(chat))));
      item.append(avatar, names);
      const unread = S.unread.get(chat.id);
      if (unread) item.append(el("span", "badge", unread));
      item.addEventListener("click", () => openChat(chat.id));
      list.append(item);
    }
  }

  function currentChat() {
    return S.chats.get(S.chatId) || null;
  }

  function renderChatHeader() {
    const chat = currentChat();
    $("chat-title").textContent = chat ? chat.title : "";
    let subtitle = "";
    if (chat && chat.type === "private") subtitle = t("private_chat");
    if (chat && chat.type !== "private") {
      const count = Object.values(chat.members).filter((s) => PRESENT.includes(s)).length + 1;
      subtitle = t("members", { n: count });
    }
    $("chat-subtitle").textContent = subtitle;
  }

  function dayKey(seconds) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: timeZone() }).format(new Date(seconds * 1000));
  }

  function dayLabel(seconds) {
    return new Intl.DateTimeFormat(locale(), {
      timeZone: timeZone(),
      month: "long",
      day: "numeric",
      weekday: "long",
    }).format(new Date(seconds * 1000));
  }

  function timeLabel(seconds) {
    return new Intl.DateTimeFormat(locale(), {
      timeZone: timeZone(),
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    }).format(new Date(seconds * 1000));
  }

  function renderMessages() {
    const box = $("messages");
    box.replaceChildren();
    const chat = currentChat();
    if (!chat) {
      if (S.me === null) box.append(el("div", "empty-note", t("picker_hint")));
      return;
    }
    const ordered = [...chat.messages.values()].filter((m) => !m.deleted).sort((a, b) => a.id - b.id);
    if (!ordered.length) box.append(el("div", "empty-note", t("no_messages")));
    for (const message of ordered) renderMessage(message, true);
    box.scrollTop = box.scrollHeight;
  }

  function messageNode(id) {
    return $("messages").querySelector(`.msg[data-id="${Number(id)}"]`);
  }

  function renderMessage(message, bulk) {
    const box = $("messages");
    const existing = messageNode(message.id);
    if (message.deleted) {
      if (existing) existing.remove();
      return;
    }
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    const node = buildMessage(message);
    if (existing) {
      existing.replaceWith(node); // an edit: the same place, new content
      return;
    }
    box.querySelectorAll(".empty-note").forEach((n) => n.remove());
    // Find where it goes (messages arrive in order, but be safe) and add a day line if needed.
    const later = [...box.querySelectorAll(".msg")].find((n) => Number(n.dataset.id) > message.id);
    const previous = later ? later.previousElementSibling : box.lastElementChild;
    const previousDay = previous && previous.dataset.day;
    const day = dayKey(message.date);
    const pieces = [];
    if (previousDay !== day) {
      const line = el("div", "day", dayLabel(message.date));
      line.dataset.day = day;
      pieces.push(line);
    }
    node.dataset.day = day;
    pieces.push(node);
    if (later) later.before(...pieces);
    else box.append(...pieces);
    if (!bulk && (nearBottom || message.from.id === S.me)) box.scrollTop = box.scrollHeight;
  }

  function buildMessage(message) {
    const chat = S.chats.get(message.chat_id);
    const mine = message.from.id === S.me;
    const node = el("div", "msg");
    node.dataset.id = String(message.id);
    node.dataset.testid = "message";
    if (message.service) {
      node.classList.add("service");
      const names = message.service.names.join("、");
      const key = { joined: "joined", left: "left", title: "title_changed" }[message.service.kind];
      node.append(el("div", "bubble", t(key, { names })));
      return node;
    }
    node.classList.add(mine ? "out" : "in");
    if (message.from.is_bot) node.classList.add("bot");
    const bubble = el("div", "bubble");
    if (chat && chat.type !== "private" && !mine) bubble.append(el("div", "sender", message.from.name));
    if (message.reply_to) bubble.append(buildQuote(message.reply_to));
    if (message.media) bubble.append(buildMedia(message.media));
    if (message.text) {
      const text = el("div", "text");
      text.dataset.testid = "message-text";
      text.append(renderEntities(message.text, message.entities || []));
      bubble.append(text);
    }
    const meta = el("div", "meta");
    if (message.edited) meta.append(el("span", "edited", t("edited")));
    meta.append(el("time", null, timeLabel(message.date)));
    bubble.append(meta);
    node.append(bubble);
    if (message.inline_keyboard && message.inline_keyboard.length) {
      node.append(buildInlineKeyboard(message));
    }
    const replyButton = el("button", "reply-action", "↩");
    replyButton.type = "button";
    replyButton.title = t("reply");
    replyButton.setAttribute("aria-label", t("reply"));
    replyButton.addEventListener("click", () => setReplyTo(message));
    node.append(replyButton);
    node.addEventListener("dblclick", () => setReplyTo(message));
    return node;
  }

  function buildQuote(reply) {
    const quote = el("div", "reply-quote");
    quote.append(el("b", null, reply.from_name));
    quote.append(el("span", null, reply.text || (reply.media ? t(reply.media) : "")));
    quote.addEventListener("click", () => {
      const target = messageNode(reply.id);
      if (!target) return;
      target.scrollIntoView({ block: "center" });
      target.classList.add("flash");
      setTimeout(() => target.classList.remove("flash"), 1200);
    });
    return quote;
  }

  function formatSize(bytes) {
    if (!bytes && bytes !== 0) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function buildMedia(media) {
    const box = el("div", "media");
    box.dataset.kind = media.kind;
    if (media.kind === "photo" || media.kind === "sticker") {
      const link = el("a");
      link.href = media.url;
      link.target = "_blank";
      link.rel = "noopener";
      const image = el("img");
      image.src = media.url;
      image.alt = t(media.kind);
      if (media.width && media.height) {
        image.width = Math.min(media.width, 360);
        image.style.aspectRatio = `${media.width} / ${media.height}`;
        image.style.height = "auto";
      }
      link.append(image);
      box.append(link);
    } else if (media.kind === "voice" || media.kind === "audio") {
      const audio = el("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = media.url;
      box.append(audio);
      box.append(el("div", "muted", `${t("voice")} · ${media.duration || 0}″`));
    } else if (media.kind === "location") {
      box.append(el("div", "place", `📍 ${t("location")} ${media.latitude.toFixed(4)}, ${media.longitude.toFixed(4)}`));
    } else if (media.kind === "contact") {
      box.append(el("div", "place", `👤 ${media.name} ${media.phone_number || ""}`));
    } else {
      const link = el("a", "file");
      link.href = media.url;
      link.download = media.filename || "";
      link.dataset.testid = "document";
      const ext = (media.filename || "").split(".").pop().slice(0, 4).toUpperCase() || "FILE";
      link.append(el("span", "file-icon", ext));
      const names = el("span");
      names.append(el("div", "file-name", media.filename || t("document")));
      names.append(el("div", "muted", formatSize(media.size)));
      link.append(names);
      box.append(link);
    }
    return box;
  }

  // Telegram's entities, nested as elements. Offsets are UTF-16 units: JavaScript strings
  // count the same way, so slicing needs no conversion.
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    const sorted = [...entities, ...detectedLinks(text, entities)]
      .filter((e) => e.length > 0 && e.offset >= 0 && e.offset < text.length)
      .map((e) => ({ ...e, length: Math.min(e.length, text.length - e.offset) }))
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    build(text, sorted, 0, text.length, fragment);
    return fragment;
  }

  // Telegram's servers mark the links and /commands in a bot's plain text; the emulator does
  // not, so the page finds them itself (outside any entity the message already has).
  const DETECTED = [
    ["url", /https?:\/\/[^\s<>"'，。）)]+/g, 0],
    ["bot_command", /(^|[\s(（：:，,])(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?)(?![A-Za-z0-9_\/])/g, 2],
  ];

  function detectedLinks(text, entities) {
    const found = [];
    for (const [type, pattern, group] of DETECTED) {
      for (const match of text.matchAll(pattern)) {
        const piece = match[group];
        const offset = match.index + match[0].length - piece.length;
        const end = offset + piece.length;
        const taken = [...entities, ...found];
        if (!taken.some((e) => e.offset < end && offset < e.offset + e.length)) {
          found.push({ type, offset, length: piece.length });
        }
      }
    }
    return found;
  }

  function build(text, entities, start, end, parent) {
    let position = start;
    let index = 0;
    while (index < entities.length) {
      const entity = entities[index];
      const entityEnd = entity.offset + entity.length;
      if (entity.offset > position) parent.append(text.slice(position, entity.offset));
      const inside = [];
      let next = index + 1;
      while (next < entities.length && entities[next].offset < entityEnd) {
        const child = entities[next];
        // Entities that overlap without nesting are clipped to their parent.
        inside.push({ ...child, length: Math.min(child.offset + child.length, entityEnd) - child.offset });
        next += 1;
      }
      const from = Math.max(entity.offset, position);
      const element = entityElement(entity, text.slice(entity.offset, entityEnd));
      build(text, inside.filter((c) => c.offset >= from), from, entityEnd, element);
      parent.append(element);
      position = Math.max(position, entityEnd);
      index = next;
    }
    if (position < end) parent.append(text.slice(position, end));
  }

  function entityElement(entity, piece) {
    switch (entity.type) {
      case "bold":
        return el("strong");
      case "italic":
        return el("em");
      case "underline":
        return el("u");
      case "strikethrough":
        return el("s");
      case "code":
        return el("code");
      case "pre": {
        const pre = el("pre");
        if (entity.language) pre.dataset.language = entity.language;
        return pre;
      }
      case "blockquote":
      case "expandable_blockquote":
        return el("blockquote");
      case "spoiler": {
        const spoiler = el("span", "spoiler");
        spoiler.addEventListener("click", () => spoiler.classList.add("revealed"));
        return spoiler;
      }
      case "text_link":
        return linkElement(entity.url);
      case "url":
        return linkElement(/^[a-z]+:/i.test(piece) ? piece : `https://${piece}`);
      case "email":
        return linkElement(`mailto:${piece}`);
      case "bot_command": {
        const command = el("a", "command");
        command.href = "#";
        command.addEventListener("click", (event) => {
          event.preventDefault();
          sendText(piece);
        });
        return command;
      }
      case "mention":
      case "text_mention":
        return el("span", "mention");
      case "hashtag":
      case "cashtag":
        return el("span", "hashtag");
      default:
        return el("span");
    }
  }

  function linkElement(url) {
    if (!url || !SAFE_URL.test(url)) return el("span");
    const link = el("a");
    link.href = url;
    link.rel = "noopener noreferrer";
    link.addEventListener("click", (event) => {
      event.preventDefault();
      openUrl(url);
    });
    return link;
  }

  function buildInlineKeyboard(message) {
    const keyboard = el("div", "inline-keyboard");
    keyboard.dataset.testid = "inline-keyboard";
    for (const row of message.inline_keyboard) {
      const line = el("div", "row");
      for (const button of row) {
        const node = el("button", null, button.text);
        node.type = "button";
        if (button.callback_data) {
          node.addEventListener("click", () => press(message, button, node));
        } else if (button.url) {
          node.classList.add("link");
          node.addEventListener("click", () => openUrl(button.url));
        } else {
          node.addEventListener("click", () => toast(t("button_unsupported")));
        }
        line.append(node);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  function renderKeyboard() {
    const box = $("keyboard");
    box.replaceChildren();
    const chat = currentChat();
    const keyboard = chat && chat.reply_keyboard;
    const hidden = keyboard && S.hiddenKeyboard.get(chat.id) === JSON.stringify(keyboard);
    if (!keyboard || hidden) {
      box.hidden = true;
      $("text").placeholder = t("placeholder");
      return;
    }
    for (const row of keyboard.rows) {
      const line = el("div", "row");
      for (const button of row) {
        const node = el("button", null, button.text);
        node.type = "button";
        node.addEventListener("click", () => tapKeyboard(chat, keyboard, button.text));
        line.append(node);
      }
      box.append(line);
    }
    box.hidden = false;
    $("text").placeholder = keyboard.placeholder || t("placeholder");
  }

  function setReplyTo(message) {
    if (!message || message.deleted || message.service) return;
    S.replyTo = message;
    renderReplyBar();
    $("text").focus();
  }

  function renderReplyBar() {
    const bar = $("reply-bar");
    const message = S.replyTo;
    if (!message || message.chat_id !== S.chatId) {
      S.replyTo = null;
      bar.hidden = true;
      return;
    }
    $("reply-name").textContent = `${t("reply")} ${message.from.name}`;
    $("reply-text").textContent = previewText(message);
    bar.hidden = false;
  }

  function renderCommandsMenu() {
    const menu = $("commands-menu");
    menu.replaceChildren();
    for (const command of myLanguageCommands()) {
      const item = el("button");
      item.type = "button";
      item.append(el("span", "cmd", `/${command.command}`), el("span", "muted", command.description));
      item.addEventListener("click", () => {
        menu.hidden = true;
        sendText(`/${command.command}`);
      });
      menu.append(item);
    }
  }

  // --- acting -------------------------------------------------------------------------------

  // The current chat's id is known even before the stream has told us about a brand-new chat.
  async function sendText(text) {
    if (S.me === null || S.chatId === null) return toast(t("picker_hint"));
    const body = { user_id: S.me, chat_id: S.chatId, text };
    if (S.replyTo) body.reply_to = S.replyTo.id;
    try {
      await api("/api/send", body);
      S.replyTo = null;
      renderReplyBar();
      return true;
    } catch (error) {
      showError(error);
      return false;
    }
  }

  async function submitComposer(event) {
    event.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!text) return;
    input.disabled = true;
    const sent = await sendText(text);
    input.disabled = false;
    if (sent) {
      input.value = "";
      autosize();
    }
    input.focus();
  }

  async function sendFile(file) {
    if (S.me === null || S.chatId === null) return;
    const form = new FormData();
    form.append("user_id", String(S.me));
    form.append("chat_id", String(S.chatId));
    const caption = $("text").value.trim();
    if (caption) form.append("caption", caption);
    if (S.replyTo) form.append("reply_to", String(S.replyTo.id));
    form.append("file", file, file.name);
    try {
      await api("/api/media", form, true);
      $("text").value = "";
      autosize();
      S.replyTo = null;
      renderReplyBar();
    } catch (error) {
      showError(error);
    }
  }

  async function sendSimple(path) {
    if (S.me === null || S.chatId === null) return;
    const body = { user_id: S.me, chat_id: S.chatId };
    if (S.replyTo) body.reply_to = S.replyTo.id;
    try {
      await api(path, body);
      S.replyTo = null;
      renderReplyBar();
    } catch (error) {
      showError(error);
    }
  }

  async function press(message, button, node) {
    node.classList.add("pending");
    node.disabled = true;
    try {
      const result = await api("/api/press", {
        user_id: S.me,
        chat_id: message.chat_id,
        message_id: message.id,
        data: button.callback_data,
      });
      const answer = result.answer || {};
      if (answer.text && answer.show_alert) await alertDialog(answer.text);
      else if (answer.text) toast(answer.text);
    } catch (error) {
      showError(error);
    } finally {
      node.classList.remove("pending");
      node.disabled = false;
    }
  }

  async function tapKeyboard(chat, keyboard, text) {
    try {
      await api("/api/tap", { user_id: S.me, chat_id: chat.id, text });
      if (keyboard.one_time) {
        S.hiddenKeyboard.set(chat.id, JSON.stringify(keyboard));
        renderKeyboard();
      }
    } catch (error) {
      showError(error);
    }
  }

  function deepLinkPayload(url) {
    if (!S.bot) return null;
    const name = S.bot.username.toLowerCase();
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "https:" && parsed.hostname === "t.me") {
        if (parsed.pathname.slice(1).toLowerCase() !== name) return null;
        return parsed.searchParams.get("start") ?? "";
      }
      if (parsed.protocol === "tg:" && (parsed.searchParams.get("domain") || "").toLowerCase() === name) {
        return parsed.searchParams.get("start") ?? "";
      }
    } catch (error) {
      return null;
    }
    return null;
  }

  // A link to this bot opens its chat as someone you choose (/start with the link's payload),
  // as Telegram would on that person's phone; other links leave the sandbox, so ask first.
  async function openUrl(url) {
    const payload = deepLinkPayload(url);
    if (payload === null) {
      if (await confirmDialog(t("open_link_external", { url }))) {
        window.open(url, "_blank", "noopener,noreferrer");
      }
      return;
    }
    const select = el("select");
    select.id = "open-as";
    select.dataset.testid = "open-as";
    const visitor = el("option", null, t("new_visitor").replace(/^[+＋]\s*/, ""));
    visitor.value = "new";
    select.append(visitor);
    for (const p of S.people) {
      const option = el("option", null, personLabel(p));
      option.value = String(p.id);
      option.selected = p.id === S.me;
      select.append(option);
    }
    if (!(await confirmDialog(t("open_link_as"), select))) return;
    let userId = Number(select.value);
    if (select.value === "new") userId = await createVisitor();
    if (!userId) return;
    setIdentity(userId, userId);
    await sendText(payload ? `/start ${payload}` : "/start");
  }

  async function createVisitor() {
    const count = S.people.filter((p) => !p.role).length + 1;
    try {
      const result = await api("/api/visitors", {
        name: t("visitor_name", { n: count }),
        language_code: S.lang === "zh" ? "zh-hans" : "en",
      });
      S.people.push(result.person);
      await loadPeople();
      return result.person.id;
    } catch (error) {
      showError(error);
      return null;
    }
  }

  // --- little helpers -----------------------------------------------------------------------

  let toastTimer = null;
  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (node.hidden = true), 3500);
  }

  function dialog(text, extra, withCancel) {
    const box = $("dialog");
    $("dialog-text").textContent = text;
    $("dialog-extra").replaceChildren(...(extra ? [extra] : []));
    $("dialog-cancel").hidden = !withCancel;
    box.returnValue = "";
    return new Promise((resolve) => {
      box.addEventListener("close", () => resolve(box.returnValue === "ok"), { once: true });
      box.showModal();
      $("dialog-ok").focus();
    });
  }

  const alertDialog = (text) => dialog(text, null, false);
  const confirmDialog = (text, extra) => dialog(text, extra, true);

  function autosize() {
    const input = $("text");
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  // --- wiring -------------------------------------------------------------------------------

  function wire() {
    $("composer").addEventListener("submit", submitComposer);
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("text").addEventListener("input", autosize);
    $("identity").addEventListener("change", (event) => setIdentity(Number(event.target.value), null));
    $("identity").addEventListener("focus", loadPeople);
    $("new-visitor").addEventListener("click", async () => {
      const id = await createVisitor();
      if (id) setIdentity(id, id);
    });
    document.querySelectorAll(".jump").forEach((button) => {
      button.addEventListener("click", () => jump(button.dataset.jump, button));
    });
    $("welcome").addEventListener("close", () => localStorage.setItem("sandbox-welcomed", "1"));
    $("welcome-open").addEventListener("click", showWelcome);
    $("lang-toggle").addEventListener("click", () => {
      S.lang = S.lang === "zh" ? "en" : "zh";
      localStorage.setItem("sandbox-lang", S.lang);
      renderAll();
    });
    $("attach-button").addEventListener("click", () => $("file-input").click());
    $("file-input").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      event.target.value = "";
      if (file) await sendFile(file);
    });
    $("voice-button").addEventListener("click", () => sendSimple("/api/voice"));
    $("location-button").addEventListener("click", () => sendSimple("/api/location"));
    $("reply-cancel").addEventListener("click", () => {
      S.replyTo = null;
      renderReplyBar();
    });
    $("commands-button").addEventListener("click", () => {
      const menu = $("commands-menu");
      if (menu.hidden) renderCommandsMenu();
      menu.hidden = !menu.hidden;
    });
    // The clock face ticks between jumps when the sandbox follows real time.
    setInterval(() => {
      if (S.clock && S.clock.follows_real_time) renderClock();
    }, 1000);
  }

  wire();
  renderStatic();
  connect();
})();

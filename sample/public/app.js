/* global document, location, EventSource, addEventListener */
// The sample's only script, no build step. It does two things:
// 1. Sends every <form method="post"> with fetch, as JSON, with the page's CSRF token in the x-csrf-token header
//    (the sample runs with csrf: { token: true }). A form says what happens next: data-then="/path" (go there) or
//    data-done="text with {field}s of the answer" (stay and say it), data-remove="tr" (remove the form's row);
//    data-method="DELETE" changes the method; data-ends-session: the form ends this page's session (logout, login,
//    impersonation), so the live panel's session_end is expected.
//    A 401 with code 'reauthenticate' shows the #reauthenticate form; once it succeeds, the first form is sent again.
// 2. Opens the live panel: an EventSource on the user's session events. The library ends the stream with a
//    `session_end` event when the session closes; unless this page closed it itself, the page says so and goes to
//    the login page.

const tokenTag = () => document.querySelector('meta[name="csrf-token"]');
/** This page is ending its own session (logout): the live panel's session_end is expected, not news. */
let leaving = false;
/** The form that a "re-enter your password" step interrupted. */
let pending;

function say(text, kind) {
  const box = document.querySelector('.message');
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

function fieldsOf(form) {
  const body = {};
  for (const input of form.elements) {
    if (input.name) body[input.name] = input.type === 'checkbox' ? input.checked : input.value;
  }
  return body;
}

async function send(form) {
  const response = await fetch(form.getAttribute('action'), {
    method: (form.dataset.method || 'POST').toUpperCase(),
    headers: { 'content-type': 'application/json', 'x-csrf-token': tokenTag().content },
    body: JSON.stringify(fieldsOf(form)),
  });
  const reply = await response.json().catch(() => ({}));
  // A login, logout or re-authentication gives the session a new id: its answer carries the new token.
  if (typeof reply.csrfToken === 'string') tokenTag().content = reply.csrfToken;
  return { ok: response.ok, status: response.status, reply };
}

async function submit(form) {
  if (form.hasAttribute('data-ends-session')) leaving = true;
  const { ok, status, reply } = await send(form);
  if (!ok) {
    leaving = false;
    const reauthenticate = document.getElementById('reauthenticate');
    if (status === 401 && reply.code === 'reauthenticate' && reauthenticate) {
      pending = form;
      reauthenticate.hidden = false;
      reauthenticate.querySelector('input').focus();
      return;
    }
    say(String(reply.message || `Refused (${status})`), 'error');
    return;
  }
  if (form.id === 'reauthenticate') {
    form.hidden = true;
    form.reset();
    const again = pending;
    pending = undefined;
    if (again) await submit(again);
    return;
  }
  if (form.dataset.remove) form.closest(form.dataset.remove).remove();
  if (form.dataset.done)
    say(
      form.dataset.done.replace(/\{(\w+)\}/g, (_, name) => String(reply[name])),
      'ok',
    );
  if (form.dataset.then !== undefined) location.assign(form.dataset.then);
}

const LINES = {
  watching: () => 'watching this session',
  'open-session': () => 'a new login',
  'post-close-session': (line) => `session ended (${line.reason})`,
  'session-expired': () => 'session expired',
  reauthenticated: () => 'password entered again',
  'denied-request': (line) => `request refused (${line.reason})`,
};

function goToLogin(panel, reason) {
  const text = reason === 'session_expired' ? 'Your session expired.' : 'This session was closed from elsewhere.';
  panel.classList.add('ended');
  panel.querySelector('.live-state').textContent = text;
  say(`${text} Going to the login page…`, 'error');
  setTimeout(() => location.assign(`/login?ended=${encodeURIComponent(reason)}`), 1000);
}

function openLivePanel(panel) {
  const state = panel.querySelector('.live-state');
  const list = panel.querySelector('.live-events');
  const source = new EventSource(panel.dataset.stream);
  source.onopen = () => (state.textContent = 'live');
  source.onmessage = (event) => {
    const line = JSON.parse(event.data);
    const item = document.createElement('li');
    item.dataset.type = line.type;
    const where = line.here ? 'this device' : 'another device';
    const by = line.actor ? ` (by ${line.actor})` : '';
    item.textContent = `${new Date(line.at).toLocaleTimeString()} ${where}: ${(LINES[line.type] || (() => line.type))(line)}${by}`;
    list.prepend(item);
  };
  source.addEventListener('session_end', (event) => {
    source.close();
    if (!leaving) goToLogin(panel, JSON.parse(event.data).reason);
  });
  source.onerror = async () => {
    if (source.readyState !== EventSource.CLOSED) {
      state.textContent = 'reconnecting…';
      return;
    }
    // The server refused the stream: without a session, that is the end of it.
    const probe = await fetch('/api/sessions');
    if (probe.status === 401 && !leaving) goToLogin(panel, 'session_closed');
    else state.textContent = 'live panel unavailable';
  };
  addEventListener('pagehide', () => source.close());
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form.method !== 'post') return;
  event.preventDefault();
  submit(form).catch((error) => say(`Could not send the form: ${error.message}`, 'error'));
});

document.addEventListener('click', (event) => {
  const fill = event.target.closest('[data-fill-user]');
  if (!fill) return;
  const form = document.getElementById('login-form');
  form.elements.user.value = fill.dataset.fillUser;
  form.elements.password.value = fill.dataset.fillPassword;
});

// Chromium restores pages from its back-forward cache, Cache-Control: no-store ones too when no cookie changed: such
// a page shows what it showed then, and its live panel is closed. Load it again from the server.
addEventListener('pageshow', (event) => {
  if (event.persisted) location.reload();
});

const panel = document.getElementById('live');
if (panel) openLivePanel(panel);

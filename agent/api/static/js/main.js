// The shopper's screen: starts the page, follows the session and acts for the shopper (docs/kiosk.md).
import { getJSON, post } from './api.js';
import { closeConfirm, closeKeypad, confirmAction, setupDialogs } from './dialogs.js';
import { applyStatic, language, loadCatalogues, promptText, setLanguage, t } from './i18n.js';
import { follow } from './live.js';
import { nextShopperActed, render, screenOf, showProblem, tick } from './render.js';

const $ = (id) => document.getElementById(id);
const LANGUAGES = ['ja', 'en'];         // agent/api/kiosk.py LANGUAGES: one catalogue each in static/i18n/
const ENDED = new Set(['paid', 'cancelled', 'abandoned']);
// The uplink: without it the lane still sells (events wait in the outbox), and the shopper is told so.
// A degraded relay is a problem with some events' data, not with the link, so only its being down counts.
const UPLINK_DOWN = { cloud: ['degraded', 'down'], mqtt: ['degraded', 'down'], relay: ['down'] };

let config = null;
let defaultLanguage = 'ja';
let view = null;
let live = null;
let endTimer = null;
let endedKey = null;            // the ended visit whose end screen has timed out: the welcome screen shows
let chosenSinceEnd = false;     // the shopper picked a language after the last visit ended
let firstRender = true;
let laneOpen = true;            // the cloud's lane.open / lane.close, which arrive as `lane` events
let booted = false;
let pending = null;             // a view that arrived before the words to draw it with
let receipt = null;             // the last `receipt` message (printing, printed, failed, sent, shown, none)
const RECEIPT_WORDS = { printing: 'receipt_printing', printed: 'receipt_printed', failed: 'receipt_failed',
  sent: 'receipt_sent', shown: 'receipt_shown', none: 'receipt_declined' };

async function boot() {
  const catalogues = loadCatalogues(LANGUAGES);        // in parallel with the config: one round trip, not two
  config = await getJSON('/kiosk-config.json');
  await catalogues;
  const asked = new URLSearchParams(location.search).get('lang');
  defaultLanguage = config.languages.includes(asked) ? asked : config.default_language;
  $('scan-where').dataset.i18n = `scan_where_${config.scanner_position}`;
  useLanguage(defaultLanguage);
  setupDialogs({ onCode: (code) => act('/v1/session/items', { code }) });
  $('lang').addEventListener('click', () => {
    chosenSinceEnd = true;
    useLanguage(config.languages.find((lang) => lang !== language()));
  });
  $('pay').addEventListener('click', pay);
  $('cancel').addEventListener('click', cancelBasket);
  $('cancel-payment').addEventListener('click', () => act('/v1/session/payment/cancel'));
  $('call-staff').addEventListener('click', () => act('/v1/session/attendant'));
  $('suspend').addEventListener('click', () => act('/v1/session/suspend'));
  $('receipt-choice').addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-receipt]');
    if (!button) return;
    const answer = await post('/v1/session/receipt', { choice: button.dataset.receipt });
    if (answer.status === 200 && answer.body) onEvent(answer.body);
  });
  $('skip-bagging').addEventListener('click', () => act('/v1/session/skip-bagging'));
  $('pay-hint').hidden = !config.scan_to_pay;
  document.body.dataset.scanner = config.scanner_position;
  setInterval(() => { if (view?.state === 'paying') tick(view); }, 1000);
  $('lines').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-void]');
    if (button) voidLine(button.dataset.void, button.dataset.name);
  });
  booted = true;
  if (pending) show(pending);
  checkHealth();
  setInterval(checkHealth, config.health_poll_s * 1000);
}

function onSession(next) {
  if (booted) show(next);
  else pending = next;
}

function useLanguage(lang) {
  setLanguage(lang);
  applyStatic();
  const other = config.languages.find((l) => l !== lang);
  $('lang').textContent = t('switch_language');
  $('lang').lang = other;       // the switch is written in the language it switches to
  if (view) show(view);
}

function show(next) {
  const previous = view;
  view = next;
  const key = `${next.session_id}:${next.state}`;
  if (ENDED.has(next.state) && !ENDED.has(previous?.state ?? '')) chosenSinceEnd = false;
  if (previous && ENDED.has(previous.state) && next.session_id !== previous.session_id) newShopper();
  if (ENDED.has(next.state) && nextShopperActed(next) && endedKey !== key) {
    endVisitScreen(key);         // the next shopper acted on the ended screen: theirs now, in the default language
    return;
  }
  scheduleWelcome(next, key);
  const drawn = laneOpen ? next : { ...next, lane_open: false };
  const screen = endedKey === key ? 'welcome' : screenOf(drawn);
  if (screen !== 'basket') closeConfirm(false);
  if (screen !== 'basket' && screen !== 'welcome') closeKeypad();
  render(drawn, screen);
  showReceipt(next);
  announce(next, screen);
  if (firstRender) {
    firstRender = false;
    performance.mark('omo:first-render');
  }
}

// The paid or cleared screen stays a while, then the next shopper sees the welcome screen (the lane is
// ready either way: a scan after a visit ended starts a new one).
function scheduleWelcome(next, key) {
  if (!ENDED.has(next.state)) {
    clearTimeout(endTimer);
    endTimer = null;
    endedKey = null;
    return;
  }
  if (endTimer || endedKey === key) return;
  endTimer = setTimeout(() => endVisitScreen(key), config.end_screen_s * 1000);
}

// The ended visit's screen is over (its time is up, or someone is at the lane): the welcome screen shows.
function endVisitScreen(key) {
  clearTimeout(endTimer);
  endTimer = null;
  endedKey = key;
  newShopper();
}

function newShopper() {
  if (!chosenSinceEnd && language() !== defaultLanguage) useLanguage(defaultLanguage);
  else if (view) show(view);
}

let lastAnnounced = '';
function announce(next, screen) {
  const prompt = next.prompts[0];
  const text = prompt ? promptText(prompt) : t(`${screen}_title`);
  if (text !== lastAnnounced) $('announce').textContent = lastAnnounced = text;
}

// The paid screen's receipt: the choice made, what became of it, and the e-receipt's QR when there is one.
function showReceipt(next) {
  const current = receipt && receipt.sale_id === next.sale_id ? receipt : null;
  for (const button of document.querySelectorAll('#receipt-choice button')) {
    button.setAttribute('aria-pressed', String(button.dataset.receipt === current?.choice));
  }
  $('receipt-status').textContent = current ? t(RECEIPT_WORDS[current.status] ?? '') : '';
  const qr = $('receipt-qr');
  const src = current?.link ? `/v1/session/receipt-qr.svg?sale=${encodeURIComponent(current.sale_id)}` : '';
  qr.hidden = !src;
  if (src && qr.getAttribute('src') !== src) qr.src = src;
  qr.alt = t('receipt_qr_alt');
}

function onEvent(event) {
  if (event.type === 'receipt') {
    receipt = event;
    if (view) showReceipt(view);
  }
  if (event.type === 'scan_refused') {
    // Someone is at the lane: a visit that ended gives way to the welcome screen before the problem is said.
    if (view && ENDED.has(view.state)) endVisitScreen(`${view.session_id}:${view.state}`);
    showProblem(t('scan_not_recorded'));
  }
  if (event.type === 'lane') {
    laneOpen = event.open;
    if (view) show(view);
  }
}

let reconnect = false;
async function onConnected(connected) {
  $('reconnecting').hidden = connected || firstRender;
  if (!connected) return;
  checkHealth();
  if (!reconnect) {
    reconnect = true;
    return;
  }
  const fresh = await getJSON('/kiosk-config.json').catch(() => null);
  if (fresh && config && fresh.version !== config.version) location.reload();   // the agent serves new files
}

async function checkHealth() {
  const health = await getJSON('/v1/health').catch(() => null);
  if (!health) return;          // the agent is not answering: the reconnecting banner says so
  const down = Object.entries(UPLINK_DOWN).some(([name, states]) =>
    states.includes(health.components?.[name]?.state));
  $('offline').hidden = !down;
}

// Acts through the session routes. The result arrives as a `session` event; the answer's own copy is drawn
// only when the socket is down (drawing both could put an older state over a newer one).
async function act(path, body) {
  const result = await post(path, body);
  const session = result.body?.session ?? (result.status === 200 ? result.body : null);
  if (session && !live.connected) show(session);
  if (result.status !== 200 && result.status !== 409) showProblem(t('action_failed'));
  return result;
}

async function pay() {
  $('pay').disabled = true;     // one tap, one payment: the button comes back with the next view
  await act('/v1/session/pay', { method: config.pay_method });
  $('pay').disabled = !view?.lines.length;
}

async function voidLine(lineId, name) {
  const sure = await confirmAction({ title: t('confirm_remove_title'), body: t('confirm_remove_body', { name }),
    yes: t('confirm_remove_yes'), no: t('confirm_remove_no') });
  if (sure) await act(`/v1/session/lines/${encodeURIComponent(lineId)}/void`);
}

async function cancelBasket() {
  const sure = await confirmAction({ title: t('confirm_cancel_title'), body: t('confirm_cancel_body'),
    yes: t('confirm_cancel_yes'), no: t('confirm_cancel_no') });
  if (sure) await act('/v1/session/cancel');
}

// Read-only, for the tests and bench/kiosk.py: what the screen last drew, and whether it is following live.
Object.defineProperty(window, 'omoKiosk', { value: Object.freeze({
  get view() { return view; },
  get connected() { return Boolean(live?.connected); },
}) });

async function start(delay = 500) {
  try {
    await boot();
  } catch {
    // The agent may still be starting when Chromium opens the page: try again, a little slower each time.
    setTimeout(() => start(Math.min(delay * 2, 5000)), delay);
  }
}
// The socket opens while the words load: the first render waits for the slower of the two, not for both.
live = follow({ onSession, onEvent, onConnected });
start();

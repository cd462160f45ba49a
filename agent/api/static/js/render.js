// The session's view (agent/session/rules/totals.py `view()`) drawn on the screen. Pure of side effects beyond the
// DOM: the same view always draws the same screen, which is what lets a reconnect recover it exactly.
import { money, nameOf, offerText, promptText, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
// Prompts the screen already says in its own panel: a banner would only repeat them.
const SAID_BY_SCREEN = new Set(['paying', 'checking_payment', 'paid', 'cancelled', 'abandoned', 'lane_locked',
  'pay_by_qr', 'confirm_in_app']);
// Prompts that refuse paying here (Pay goes away until the next thing the lane says), and those that offer to
// put the basket aside for a staffed register (the suspend button comes instead).
const PAY_REFUSED = new Set(['payment_offline', 'offline_sale_cap', 'disk_full']);
const OFFERS_SUSPEND = new Set(['payment_offline']);
// The bagging scale waits for the item in the bag: a bulky one can be declared instead (staff check it, or
// the lane allows it up to [bagging] skip_max_g).
const OFFERS_SKIP_BAGGING = new Set(['place_item']);
const DISCOUNT_KEYS = { member_price: 'discount_member_price', promotion: 'discount_promotion',
  markdown: 'discount_markdown', coupon: 'discount_coupon' };

export function screenOf(view) {
  if (view.state === 'locked' || !view.lane_open) return 'closed';
  if (view.state === 'idle') return 'welcome';
  // A visit that ended says so in its own prompt (`paid`, `cancelled`, `abandoned`). Any other prompt is the
  // next shopper's first action (a refused scan, a pickup): the previous shopper's receipt must not stay up.
  const ended = view.state === 'paid' ? 'paid' : (view.state === 'cancelled' || view.state === 'abandoned'
    ? 'ended' : null);
  if (ended) return nextShopperActed(view) ? 'welcome' : ended;
  return 'basket';
}

export const nextShopperActed = (view) => Boolean(view.prompts[0] && view.prompts[0].code !== view.state);

export function modeOf(view) {
  if (view.state === 'needs_attendant') return 'attendant';
  if (view.state !== 'paying') return 'scanning';
  if (view.prompts.some((p) => p.code === 'checking_payment')) return 'checking';
  if (view.payment?.status === 'waiting') return view.payment.qr_payload ? 'qr' : 'confirm';
  return 'paying';
}

const isAttendantCall = (code) => code.startsWith('attendant_') && code !== 'attendant_done';

export function render(view, screen = screenOf(view)) {
  const mode = modeOf(view);
  Object.assign(document.body.dataset, { screen, mode, state: view.state });
  if (screen === 'basket') {
    renderLines(view);
    renderSummary(view);
    renderNotice(view, mode);
  } else if (screen === 'paid') {
    renderPaid(view);
  }
  renderPrompt(view, screen, mode);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderLines(view) {
  const list = $('lines');
  const grew = view.lines.length > list.children.length;
  const byLine = new Map();
  for (const discount of view.discounts) {
    for (const part of discount.refers_to) {
      if (!byLine.has(part.line_id)) byLine.set(part.line_id, []);
      byLine.get(part.line_id).push({ discount, amount: part.amount });
    }
  }
  list.replaceChildren(...view.lines.map((line) => lineItem(line, byLine.get(line.line_id) ?? [])));
  $('basket-empty').hidden = view.lines.length > 0;
  $('reduced-note').hidden = !view.lines.some((line) => line.reduced_rate);
  // The item just scanned comes into view; in the next frame, where the layout it needs is done anyway.
  if (grew) requestAnimationFrame(() => list.lastElementChild?.scrollIntoView({ block: 'nearest' }));
}

function lineItem(line, discounts) {
  const item = el('li', 'line');
  item.dataset.lineId = line.line_id;
  const name = nameOf(line);
  const remove = el('button', 'btn secondary remove', t('remove'));
  remove.type = 'button';
  remove.dataset.void = line.line_id;
  remove.dataset.name = name;
  remove.setAttribute('aria-label', t('remove_named', { name }));
  item.append(el('span', 'name', name + (line.reduced_rate ? ' ※' : '')),
    el('span', 'qty', lineDetail(line)), el('span', 'amount', money(line.gross)), remove);
  for (const { discount, amount } of discounts) {
    const label = t(DISCOUNT_KEYS[discount.kind] ?? discount.label);
    const row = el('div', 'discount');
    row.append(el('span', '', discount.kind === 'promotion' ? `${label} ${offerText(discount.label)}`
      : discount.kind === 'markdown' ? offerText(discount.label) : label),
      el('span', 'amount', `−${money(amount)}`));
    item.append(row);
  }
  return item;
}

function lineDetail(line) {
  if (line.fixed_amount !== null && line.fixed_amount !== undefined) {
    const weight = line.weight_g ? t('weight', { g: line.weight_g }) : '';
    // Priced here by weight: the shopper sees what the weight was charged at (a label's own amount has no
    // unit price of its own, so none is shown for it).
    if (!weight || !line.unit) return weight;
    const price = t('per_unit', { price: money(line.unit_price), unit: t(`unit_${line.unit}`) });
    return t('weighed', { weight, price });
  }
  return `${money(line.unit_price)} ${t('quantity', { n: line.quantity })}`;
}

function renderSummary(view) {
  const totals = view.totals;
  $('subtotal').textContent = money(totals.subtotal);
  $('discount-row').hidden = !totals.discount;
  $('discount').textContent = `−${money(totals.discount)}`;
  $('points-row').hidden = !totals.points_redeemed;
  $('points').textContent = `−${money(totals.points_redeemed ?? 0)}`;
  $('total').textContent = money(totals.amount_due);
  $('rates').replaceChildren(...totals.rates.map((r) => el('li', '', t('tax_rate', {
    rate: `${Math.round(Number(r.rate) * 100)}%`, total: money(r.total), tax: money(r.tax) }))));
  const pay = $('pay');
  pay.textContent = t('pay', { amount: money(totals.amount_due) });
  pay.disabled = view.lines.length === 0;
  const said = view.prompts[0]?.code;
  pay.hidden = PAY_REFUSED.has(said);
  $('pay-hint').classList.toggle('refused', pay.hidden);        // "tap Pay" would point at nothing
  $('suspend').hidden = !OFFERS_SUSPEND.has(said);
  $('skip-bagging').hidden = !OFFERS_SKIP_BAGGING.has(said);
  renderMember(view.member);
}

function renderMember(member) {
  $('member').hidden = !member;
  if (!member) return;
  const tier = member.tier ? t(`tier_${member.tier}`) : '';
  $('member-tier').textContent = t('member_tier', { tier: tier.startsWith('tier_') ? member.tier : tier });
  $('member-points').textContent = t('member_points', { points: member.points_balance.toLocaleString('ja-JP') });
  $('member-earn').textContent = t('member_points_to_earn', {
    points: (member.points_to_earn ?? 0).toLocaleString('ja-JP') });
}

function renderNotice(view, mode) {
  $('notice').hidden = mode === 'scanning';
  $('notice').dataset.mode = mode;
  const amount = view.payment?.amount ?? view.totals.amount_due;
  const parts = {
    attendant: [t('attendant_title'), attendantReason(view), t('attendant_coming'), ''],
    paying: [t('paying_title'), '', t('paying_hint'), money(amount)],
    checking: [t('checking_title'), '', t('checking_hint'), money(amount)],
    qr: [t('qr_title'), '', t('qr_hint'), money(amount)],
    confirm: [t('confirm_title'), '', t('confirm_hint'), money(amount)],
  }[mode];
  renderQr(view, mode);
  $('cancel-payment').hidden = mode !== 'qr' && mode !== 'confirm';
  if (!parts) return;
  ['notice-title', 'notice-reason', 'notice-hint', 'notice-amount'].forEach((id, i) => {
    $(id).textContent = parts[i];
    $(id).hidden = !parts[i];
  });
}

// The lane's QR, drawn by the agent (segno): a new payment gets a new image, the same one is not fetched again.
function renderQr(view, mode) {
  const qr = $('notice-qr');
  const src = mode === 'qr' ? `/v1/session/payment-qr.svg?p=${encodeURIComponent(view.payment.payment_id)}` : '';
  qr.hidden = !src;
  if (src && qr.getAttribute('src') !== src) qr.src = src;
  qr.alt = src ? t('qr_alt') : '';
  tick(view, mode);
}

// The seconds left to pay the QR; main.js calls it every second while the QR is shown.
export function tick(view, mode = modeOf(view)) {
  const countdown = $('notice-countdown');
  const expires = mode === 'qr' ? view.payment.expires_at : null;
  countdown.hidden = !expires;
  if (!expires) return;
  const left = Math.max(0, Math.ceil(expires - Date.now() / 1000));
  countdown.textContent = t('qr_countdown', { m: Math.floor(left / 60), s: String(left % 60).padStart(2, '0') });
}

function attendantReason(view) {
  const prompt = view.prompts.find((p) => isAttendantCall(p.code));
  if (prompt) return promptText(prompt);
  const reason = view.interventions[0]?.reason;
  return reason ? promptText({ code: `attendant_${reason}`, message: '' }) : '';
}

function renderPaid(view) {
  $('paid-total').textContent = money(view.payment?.amount ?? view.totals.amount_due);
  $('paid-points-row').hidden = !view.member;
  $('paid-points').textContent = t('member_points', { points: view.member?.points_to_earn ?? 0 });
  $('sale-id').textContent = view.sale_id ?? '';
  const barcode = $('barcode');
  const src = view.sale_id ? `/v1/session/receipt-barcode.svg?sale=${encodeURIComponent(view.sale_id)}` : '';
  if (barcode.getAttribute('src') !== src) {
    barcode.hidden = !src;
    if (src) barcode.src = src;
  }
  barcode.alt = t('barcode_alt', { id: view.sale_id ?? '' });
}

function renderPrompt(view, screen, mode) {
  const prompt = view.prompts[0];
  const banner = $('prompt');
  const shown = prompt && screen !== 'closed' && !SAID_BY_SCREEN.has(prompt.code)
    && !(mode === 'attendant' && isAttendantCall(prompt.code));
  banner.hidden = !shown;
  if (!shown) return;
  banner.className = `banner ${prompt.level}`;
  banner.dataset.code = prompt.code;
  const points = view.member?.points_balance?.toLocaleString('ja-JP');       // 1,200 as in the member box
  banner.textContent = promptText(prompt, { points, code: view.suspend_code });
}

// A message from outside the view (a scan that was not recorded): shown until the next view replaces it.
export function showProblem(text) {
  const banner = $('prompt');
  banner.hidden = false;
  banner.className = 'banner error';
  banner.dataset.code = 'problem';
  banner.textContent = text;
}

// Every word on the screen comes from one catalogue per language (static/i18n/<language>.json). The session's
// prompts are looked up by their stable `code`; a code the catalogue does not know yet shows the English
// `message` the session sent, so a new prompt is never silent.

const catalogues = {};
let current = 'ja';
const yen = new Intl.NumberFormat('ja-JP', { style: 'currency', currency: 'JPY' });

export async function loadCatalogues(languages) {
  await Promise.all(languages.map(async (lang) => {
    const response = await fetch(`/static/i18n/${lang}.json`);
    if (!response.ok) throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
    catalogues[lang] = await response.json();
  }));
}

export function setLanguage(lang) {
  current = lang;
  document.documentElement.lang = lang;
}

export const language = () => current;

export function t(key, vars = {}) {
  return fill(catalogues[current]?.[key] ?? key, vars);
}

// `invalid_<check>` codes share one sentence: the shopper needs the same advice whatever check failed. The
// prompt's own `args` (a pickup's compartment and order) fill the sentence, beside what the screen knows (`vars`).
export function promptText(prompt, vars = {}) {
  const catalogue = catalogues[current] ?? {};
  const key = [`prompt.${prompt.code}`, prompt.code.startsWith('invalid_') ? 'prompt.invalid' : null]
    .find((k) => k && k in catalogue);
  const text = key ? fill(catalogue[key], { ...vars, ...(prompt.args ?? {}) }) : prompt.message;
  return /\{\w+\}/.test(text) ? prompt.message : text;   // a value the screen does not have: say it in English
}

export const money = (amount) => yen.format(amount);

// A product's name in the screen's language: the catalog's `names`, else its `name`.
export const nameOf = (line) => line.names?.[current] ?? line.name;

// A promotion's label as the pricing engine writes it ("2 for 300", "10% off", "20 off each"), in the screen's
// words; a label of another form is shown as it is.
const OFFERS = [[/^(\d+) for (\d+)$/, (m) => t('promo_bundle', { n: m[1], price: money(Number(m[2])) })],
  [/^(\d+)% off$/, (m) => t('promo_percent', { percent: m[1] })],
  [/^(\d+) off each$/, (m) => t('promo_amount', { amount: money(Number(m[1])) })],
  [/^Expiry day (\d+)% off$/, (m) => t('promo_markdown_percent', { percent: m[1] })],
  [/^Expiry day (\d+) off each$/, (m) => t('promo_markdown_amount', { amount: money(Number(m[1])) })]];
export function offerText(label) {
  for (const [pattern, say] of OFFERS) {
    const match = pattern.exec(label);
    if (match) return say(match);
  }
  return label;
}

export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (vars[name] ?? null) === null ? whole : String(vars[name]));
}

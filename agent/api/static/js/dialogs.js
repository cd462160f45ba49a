// The two dialogs: a confirmation before anything is taken off the basket, and the keypad for a code that
// will not scan. Both are native <dialog>s: modal, focus kept inside, Escape closes them.

const $ = (id) => document.getElementById(id);
const MAX_DIGITS = 48;

let answer = null;      // resolves the open confirmation

export function confirmAction({ title, body, yes, no }) {
  closeConfirm(false);
  $('confirm-title').textContent = title;
  $('confirm-body').textContent = body;
  $('confirm-yes').textContent = yes;
  $('confirm-no').textContent = no;
  $('confirm').showModal();
  $('confirm-no').focus();       // the safe choice is the default one
  return new Promise((resolve) => { answer = resolve; });
}

export function closeConfirm(result = false) {
  if ($('confirm').open) $('confirm').close();
  answer?.(result);
  answer = null;
}

export function setupDialogs({ onCode }) {
  $('confirm-yes').addEventListener('click', () => closeConfirm(true));
  $('confirm-no').addEventListener('click', () => closeConfirm(false));
  $('confirm').addEventListener('cancel', () => closeConfirm(false));
  const value = $('keypad-value');
  const show = (text) => {
    value.textContent = text;
    $('keypad-add').disabled = text.length === 0;
  };
  for (const key of document.querySelectorAll('#keypad [data-key]')) {
    key.addEventListener('click', () => show((value.textContent + key.dataset.key).slice(0, MAX_DIGITS)));
  }
  $('keypad-delete').addEventListener('click', () => show(value.textContent.slice(0, -1)));
  $('keypad-clear').addEventListener('click', () => show(''));
  $('keypad-close').addEventListener('click', () => closeKeypad());
  $('keypad-add').addEventListener('click', async () => {
    const code = value.textContent;
    $('keypad-add').disabled = true;
    await onCode(code);
    closeKeypad();
  });
  for (const opener of document.querySelectorAll('.keypad-open')) {
    opener.addEventListener('click', () => {
      show('');
      $('keypad').showModal();
    });
  }
}

export function closeKeypad() {
  if ($('keypad').open) $('keypad').close();
}

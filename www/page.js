// The enrollment page's own script (index.html, not the element): the document speaks the
// language of `?locale=` (a cPanel locale name or a language tag, as the login page takes it),
// else the browser's, else English: <html lang> and dir, and the title. The element follows
// the document's language (i18n.js), so this runs before app.js defines it.

import { DEFAULT_LOCALE, languageTag, loadMessages, matchLocale } from './i18n.js';

const wanted = [
  new URLSearchParams(window.location.search).get('locale'),
  ...(navigator.languages ?? [navigator.language]),
];
const locale = wanted.map(matchLocale).find(Boolean) ?? DEFAULT_LOCALE;
const root = document.documentElement;
root.lang = languageTag(locale);

loadMessages(locale).then((msg) => {
  root.dir = msg.dir;
  document.title = msg.t('title');
});

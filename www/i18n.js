// The page's words: one JSON catalog per locale in ./locales (en.json is the reference; the
// server's login pages read the same files), the choice of locale, plurals and numbers through
// Intl. No DOM beyond reading attributes; element.js applies the words.
//
// A catalog maps a key ("setup.scan_title") to a string with {name} placeholders, or, for a
// sentence with a count, to an object with one string per plural category of the locale
// ("zero", "one", "two", "few", "many", "other"), chosen by Intl.PluralRules; an explicit
// "zero" is used for 0 even where the locale's rules have no such category (English). Numbers
// are written with Intl.NumberFormat. "meta.dir" is the locale's direction (ltr or rtl).

/** The locales that have a catalog, in cPanel's names (crate/src/server/i18n.rs lists the same). */
export const LOCALES = ['en', 'ar', 'de', 'es', 'fr', 'ja'];
export const DEFAULT_LOCALE = 'en';

const catalogs = new Map();

/**
 * The catalog locale for a language tag or a cPanel locale name: "pt-BR" and "pt_br" give
 * pt_br when there is such a catalog, "ar-EG" gives ar; null when none fits.
 */
export function matchLocale(tag) {
  if (typeof tag !== 'string') return null;
  const name = tag.trim().toLowerCase().replace(/-/g, '_');
  if (!name) return null;
  if (LOCALES.includes(name)) return name;
  const base = name.split('_')[0];
  return LOCALES.includes(base) ? base : null;
}

/** The BCP 47 tag of a catalog locale, for `lang` and Intl: pt_br → pt-BR. */
export function languageTag(locale) {
  const [lang, region] = locale.split('_');
  return region ? `${lang}-${region.toUpperCase()}` : lang;
}

/**
 * The locale for an element: its `locale` or `lang` attribute, then the document's
 * <html lang>, then the browser's languages, then English. The first that names a language
 * decides; a language without a catalog falls through to the next source.
 */
export function chooseLocale(element, doc = document, nav = navigator) {
  const tries = [
    element.getAttribute('locale'),
    element.getAttribute('lang'),
    doc.documentElement.getAttribute('lang'),
    ...(nav.languages ?? [nav.language]),
  ];
  for (const tag of tries) {
    const found = matchLocale(tag);
    if (found) return found;
  }
  return DEFAULT_LOCALE;
}

/** Fetches (once) the catalog of `locale`, next to this module; null when it cannot be had. */
function fetchCatalog(locale) {
  if (!catalogs.has(locale)) {
    const url = new URL(`locales/${locale}.json`, import.meta.url);
    catalogs.set(locale, fetch(url)
      .then((res) => (res.ok ? res.json() : null))
      .then((json) => (json && typeof json === 'object' ? json : null))
      .catch(() => null));
  }
  return catalogs.get(locale);
}

/** Fills {name} placeholders; numbers through the locale's NumberFormat. */
function fill(text, params, numbers) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const v = params[name];
    return typeof v === 'number' ? numbers.format(v) : String(v);
  });
}

/** The words of one locale, English standing in for any key its catalog lacks. */
export class Messages {
  constructor(locale, catalog, english) {
    this.locale = locale;
    this.lang = languageTag(locale);
    this.catalog = catalog ?? {};
    this.english = english ?? {};
    this.dir = this.catalog['meta.dir'] === 'rtl' ? 'rtl' : 'ltr';
    this.plurals = new Intl.PluralRules(this.lang);
    this.numbers = new Intl.NumberFormat(this.lang);
  }

  /** The text of `key` with `params` filled in; a plural entry is chosen by `params.n`. */
  t(key, params = {}) {
    let entry = this.catalog[key] ?? this.english[key];
    if (entry === undefined) return key;
    if (entry && typeof entry === 'object') {
      const n = Number(params.n);
      const category = n === 0 && 'zero' in entry ? 'zero' : this.plurals.select(n);
      entry = entry[category] ?? entry.other ?? '';
    }
    return fill(String(entry), params, this.numbers);
  }
}

/** The Messages of `locale` (English when its catalog cannot be loaded). */
export async function loadMessages(locale) {
  const english = await fetchCatalog(DEFAULT_LOCALE);
  if (locale === DEFAULT_LOCALE) return new Messages(locale, english, english);
  const catalog = await fetchCatalog(locale);
  return catalog
    ? new Messages(locale, catalog, english)
    : new Messages(DEFAULT_LOCALE, english, english);
}

/** An error in the page's own words: its key and parameters, worded in the current locale. */
export class LocalError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'LocalError';
    this.key = key;
    this.params = params;
  }
}

// Keeps this pack's translations (locales/<lang>/, served by ComfyUI at /i18n) on frontends
// that lose them. Up to frontend 1.32 the custom nodes' messages are merged into vue-i18n
// before the chosen language is loaded lazily, and that load replaces them (fixed upstream in
// ComfyUI_frontend PR #7214). `init` runs after the settings are loaded and before the node
// definitions are registered, so merging again once the language is in place is enough; on
// newer frontends it merges the same messages a second time, which changes nothing.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const WAIT_MS = 10000;

function globalComposer() {
  // The vue-i18n instance the frontend provides to its Vue app (vue-i18n's I18nInjectionKey);
  // its global composer holds the messages. $i18n only exposes the locale, not the messages.
  const provides = document.querySelector("#vue-app")?.__vue_app__?._context?.provides;
  if (!provides) return null;
  const key = Object.getOwnPropertySymbols(provides).find((s) => s.description === "global-vue-i18n");
  return key ? provides[key]?.global ?? null : null;
}

async function languageLoaded(i18n, locale) {
  // A lazily loaded language has the frontend's own "g" (general) messages once it is in.
  const start = performance.now();
  while (!i18n.getLocaleMessage(locale)?.g) {
    if (performance.now() - start > WAIT_MS) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

app.registerExtension({
  name: "SDEDrag.LocaleMerge",
  async init() {
    const i18n = globalComposer();
    const locale = typeof i18n?.locale === "object" ? i18n.locale.value : i18n?.locale;
    if (!i18n?.mergeLocaleMessage || !locale || locale === "en") return;
    try {
      const response = await api.fetchApi("/i18n");
      const messages = response.ok ? (await response.json())[locale] : null;
      if (messages && (await languageLoaded(i18n, locale))) i18n.mergeLocaleMessage(locale, messages);
    } catch (error) {
      console.warn("SDE Drag: could not merge the translations", error);
    }
  },
});

// The point editor's words in English and Chinese, chosen by the frontend's language setting
// (Comfy.Locale; the browser's language before the setting is read). Node names, inputs and tooltips
// are translated by the frontend itself from locales/<lang>/nodeDefs.json.
import { app } from "../../scripts/app.js";

const WORDS = {
  en: {
    connect: () => "Connect a Load Image (or run the graph)",
    runOnce: (origin) => `Run once to see the image: the picture comes from ${origin}`,
    refused: (reason) => `${reason}. A click starts a new list (Undo brings the text back).`,
    notLoaded: () => "The image could not be loaded: run once to see it",
    loading: () => "Loading the image…",
    undo: () => "Undo",
    clear: () => "Clear",
    pairs: (n, pending) => `${n} pair${n === 1 ? "" : "s"}${pending ? " + source" : ""}`,
    noImage: () => "no image",
  },
  zh: {
    connect: () => "连接一个 Load Image（或先运行一次）",
    runOnce: (origin) => `运行一次后显示图像：图像来自 ${origin}`,
    refused: (reason) => `${reason}。点击将开始新的点列表（撤销可恢复原文本）。`,
    notLoaded: () => "图像无法加载：运行一次后显示",
    loading: () => "正在加载图像…",
    undo: () => "撤销",
    clear: () => "清除",
    pairs: (n, pending) => `${n} 对点${pending ? " + 起点" : ""}`,
    noImage: () => "无图像",
  },
};

export function language() {
  let locale;
  try {
    locale = app.extensionManager?.setting?.get?.("Comfy.Locale") ?? app.ui?.settings?.getSettingValue?.("Comfy.Locale");
  } catch { /* settings not loaded yet */ }
  return String(locale || navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** The editor's text for `key` in the frontend's language. */
export function say(key, ...args) {
  return WORDS[language()][key](...args);
}

export const LANGUAGES = Object.keys(WORDS);

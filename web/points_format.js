// The DRAG_POINTS text, read as the server reads it (nodes/points_format.py, `parse_drag_points` with
// allow_empty): the JSON form with [x, y] or {"x", "y"} points, a bare JSON list of pairs, and the
// "sx,sy -> tx,ty" lines with an optional "size W x H" line and "#" comments. What the server refuses
// comes back with `error` set, so the editor can say so instead of dropping points in silence.
// The editor imports this module and tests/test_points_format_browser.py runs the same texts through
// it and through the Python parser. Python's whitespace (str.split) and Unicode digits (re's \d) are
// followed too. Known differences: JSON nested deeper than Python's recursion limit (about 1,000
// levels) is refused by the server only.
export const MAX_PAIRS = 256, MAX_COORD = 65536, MAX_TEXT_CHARS = 65536, MAX_INT_DIGITS = 4300;

const SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"; // str.isspace()
const IS_SPACE = new RegExp(`[${SPACE}]`), SPACES = new RegExp(`[${SPACE}]+`);
const D = "\\p{Nd}", NUMBER = `[-+]?(?:${D}+(?:\\.${D}*)?|\\.${D}+)(?:[eE][-+]?${D}+)?`;
const PAIR = new RegExp(`^ ?\\(? ?(${NUMBER}) ?, ?(${NUMBER}) ?\\)? ?(?:->|=>|>|to) ?\\(? ?(${NUMBER}) ?, ?(${NUMBER}) ?\\)? ?$`, "u");
const SIZE = new RegExp(`^ ?size ?[:=]? ?(${D}{1,9}) ?[xX, ] ?(${D}{1,9}) ?$`, "u");
// Outside JSON strings: Python's json reads NaN / Infinity / -Infinity (JSON.parse does not), and refuses
// integers of more than 4,300 digits (JSON.parse reads them as Infinity). One pass, linear in the text.
const JSON_TOKEN = /"(?:[^"\\]|\\[^])*"?|-?Infinity|NaN|[0-9][0-9.eE+-]*/g;

class Refused extends Error {}
const refuse = (why) => { throw new Refused(`drag_points: ${why}`); };

/** Python's float() of a matched number: Unicode decimal digits count as their ASCII digits. */
function pyFloat(s) {
  return Number(s.replace(/\p{Nd}/gu, (c) => {
    let zero = c.codePointAt(0); // digits come in runs of whole 0..9 blocks
    while (/\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--;
    return String((c.codePointAt(0) - zero) % 10);
  }));
}

function strip(text) {
  let [a, b] = [0, text.length];
  while (a < b && IS_SPACE.test(text[a])) a++;
  while (b > a && IS_SPACE.test(text[b - 1])) b--;
  return text.slice(a, b);
}

function number(v, what) {
  if (typeof v !== "number") refuse(`${what} must be a number`);
  if (!Number.isFinite(v) || Math.abs(v) > MAX_COORD) refuse(`${what} must be a finite number below ${MAX_COORD}, got ${v}`);
  return v;
}

function point(v, what) {
  if (v && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, "x") && Object.hasOwn(v, "y")) v = [v.x, v.y];
  if (!Array.isArray(v) || v.length !== 2) refuse(`${what} must be [x, y]`);
  return [number(v[0], `${what} x`), number(v[1], `${what} y`)];
}

function size(w, h) {
  if (w == null && h == null) return [null, null];
  if (w == null || h == null) refuse("give both width and height of the image the points were picked on, or neither");
  return [["width", w], ["height", h]].map(([name, v]) => {
    if (number(v, name) < 1 || !Number.isInteger(v)) refuse(`${name} must be a positive whole number of pixels, got ${v}`);
    return v;
  });
}

function fromJson(text) {
  let long = false, data;
  const json = text.replace(JSON_TOKEN, (t) => {
    if (/^[0-9]+$/.test(t) && t.length > MAX_INT_DIGITS) long = true;
    return t[0] === '"' || /^[0-9]/.test(t) ? t : '"NaN"'; // NaN is no number: refused wherever one is needed
  });
  try { data = JSON.parse(json); } catch (e) { refuse(`malformed JSON (${e.message.slice(0, 80)})`); }
  if (long) refuse(`malformed JSON (an integer of more than ${MAX_INT_DIGITS} digits)`);
  if (Array.isArray(data)) data = { points: data };
  if (!data || typeof data !== "object" || !Object.hasOwn(data, "points"))
    refuse('JSON must be {"points": [[[sx, sy], [tx, ty]], ...], "width": W, "height": H}');
  if (!Array.isArray(data.points)) refuse('"points" must be a list of [source, target] pairs');
  if (data.points.length > MAX_PAIRS) refuse(`${data.points.length} pairs is more than the ${MAX_PAIRS} supported`);
  const pairs = data.points.map((p, k) => {
    if (!Array.isArray(p) || p.length !== 2) refuse(`pair ${k + 1} must be [[sx, sy], [tx, ty]]`);
    return [point(p[0], `pair ${k + 1} source`), point(p[1], `pair ${k + 1} target`)];
  });
  return [pairs, ...size(data.width, data.height)];
}

function fromText(text) {
  const pairs = [];
  let [width, height] = [null, null];
  for (const raw of text.split(/[;\n]/)) {
    const line = raw.split(SPACES).filter(Boolean).join(" ");
    if (!line || line.startsWith("#")) continue;
    const s = SIZE.exec(line), m = !s && PAIR.exec(line);
    if (s) [width, height] = size(pyFloat(s[1]), pyFloat(s[2]));
    else if (!m) refuse(`cannot read '${line.slice(0, 58)}'; write one pair per line as 'sx,sy -> tx,ty'`);
    else {
      const n = pairs.length + 1, v = m.slice(1).map(pyFloat);
      pairs.push([point(v.slice(0, 2), `pair ${n} source`), point(v.slice(2), `pair ${n} target`)]);
      if (pairs.length > MAX_PAIRS) refuse(`more than the ${MAX_PAIRS} supported pairs`);
    }
  }
  return [pairs, width, height];
}

/** {pairs: [[[sx, sy], [tx, ty]], ...], width, height, error}: width/height null when the text gives no
 *  size; error (the reason, in the server's words) when the server would refuse the text, with no pairs. */
export function parsePoints(text) {
  try {
    if (typeof text !== "string") refuse("must be text");
    let count = 0;
    if (text.length > MAX_TEXT_CHARS) for (const _ of text) if (++count > MAX_TEXT_CHARS) break; // code points, as Python counts
    if (count > MAX_TEXT_CHARS) refuse(`the text is more than the ${MAX_TEXT_CHARS} characters this node reads`);
    const body = strip(text), json = body.startsWith("{") || body.startsWith("[");
    const [pairs, width, height] = json ? fromJson(body) : fromText(body);
    return { pairs, width, height, error: null };
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    return { pairs: [], width: null, height: null, error: e.message };
  }
}

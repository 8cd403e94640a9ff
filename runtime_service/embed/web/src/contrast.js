// WCAG 2.x contrast. The owner's colours are kept; only a text colour that would be unreadable
// on its background (below AA, 4.5:1) is replaced by black or white, whichever reads better.
// Pure functions: tests run them under node (tests/unit... test_embed_contrast.py).

// The hex forms config.v1 allows (#rgb, #rgba, #rrggbb, #rrggbbaa) as [r, g, b, alpha 0..1].
export function parseColor(value) {
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec((value || "").trim());
  if (!hex) return null;
  let digits = hex[1];
  if (digits.length <= 4) digits = digits.replace(/./g, (c) => c + c);
  const [r, g, b, a = 255] = [0, 2, 4, 6].filter((i) => i < digits.length).map((i) => parseInt(digits.slice(i, i + 2), 16));
  return [r, g, b, a / 255];
}

// A translucent colour as seen over an opaque one.
function over([r, g, b, a], [R, G, B]) {
  return [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
}

function luminance([r, g, b]) {
  const [R, G, B] = [r, g, b].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * R + 0.7152 * G + 0.0722 * B;
}

export function contrastRatio(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

export const AA = 4.5;

// The text colour to use on `background` (itself over the opaque `surface`): `text` when it
// meets AA, else black or white. Empty or invalid colours: `text` unchanged.
export function readableText(background, text, surface = "#ffffff") {
  const base = parseColor(surface);
  const back = parseColor(background);
  if (!back || !base) return text;
  const bg = over(back, base);
  const fg = parseColor(text);
  if (fg && contrastRatio(bg, over(fg, bg)) >= AA) return text;
  return contrastRatio(bg, [0, 0, 0]) >= contrastRatio(bg, [255, 255, 255]) ? "#000000" : "#ffffff";
}

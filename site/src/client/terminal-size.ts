// The size FitAddon will give a terminal, worked out before xterm.js exists: a terminal created at
// its final size draws once, instead of drawing at 80 columns and again after the first fit.
// Mirrors xterm's own arithmetic (CharSizeService's text metrics, DomRenderer's cell rounding,
// FitAddon's scrollbar allowance); if it is ever off, the fit after `open` corrects it.

/** xterm's ViewportConstants.DEFAULT_SCROLL_BAR_WIDTH, kept free whenever there is scrollback. */
const SCROLLBAR_WIDTH = 14;
const MIN_COLS = 2;
const MIN_ROWS = 1;

export interface TerminalFont {
  fontFamily: string;
  fontSize: number;
  lineHeight: number;
}

/** The columns and rows that fill `screen`, or undefined when it cannot be measured yet. */
export function fittedSize(
  screen: HTMLElement,
  font: TerminalFont,
): { cols: number; rows: number } | undefined {
  let char: TextMetrics;
  try {
    const ctx = new OffscreenCanvas(1, 1).getContext('2d');
    if (!ctx) return undefined;
    ctx.font = `${font.fontSize}px ${font.fontFamily}`;
    char = ctx.measureText('W');
  } catch {
    return undefined;
  }
  const charHeight = char.fontBoundingBoxAscent + char.fontBoundingBoxDescent;
  const style = getComputedStyle(screen);
  const width = Number.parseInt(style.width, 10) - SCROLLBAR_WIDTH;
  const height = Number.parseInt(style.height, 10);
  if (!(char.width > 0 && charHeight > 0 && width > 0 && height > 0)) return undefined;
  const dpr = devicePixelRatio;
  const deviceCellWidth = char.width * dpr;
  const deviceCellHeight = Math.floor(Math.ceil(charHeight * dpr) * font.lineHeight);
  // xterm rounds the whole canvas to CSS pixels and divides back, so a cell's CSS size depends on
  // the count: settle the count against the size it implies (two rounds are plenty).
  const settle = (space: number, deviceCell: number, min: number) => {
    let n = Math.max(min, Math.floor(space / (deviceCell / dpr)));
    for (let i = 0; i < 2; i++)
      n = Math.max(min, Math.floor(space / (Math.round((deviceCell * n) / dpr) / n)));
    return n;
  };
  return {
    cols: settle(width, deviceCellWidth, MIN_COLS),
    rows: settle(height, deviceCellHeight, MIN_ROWS),
  };
}

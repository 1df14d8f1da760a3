/** What `smoe route` draws: the token x layer grid for a terminal, its summary tables, and the SVG heatmap. */
import type { RouteReport } from '../route.js';

/** A routed input and the name it is shown under. */
export interface NamedReport {
  name: string;
  report: RouteReport;
}

// ---------------------------------------------------------------------------------------------------------
// Terminal

/** 256-colour palette, one colour per expert (cycled past 16), and whether black text reads on it. */
const PALETTE: Array<[number, boolean]> = [
  [196, false], [214, true], [226, true], [46, true], [51, true], [33, false], [129, false], [201, false],
  [130, false], [250, true], [28, false], [19, false], [88, false], [180, true], [30, false], [90, false],
];

const ESC = '\x1b[';
const RESET = `${ESC}0m`;

/** An expert's label coloured: the first choice as a coloured block, the others in the expert's colour. */
function paint(label: string, expert: number, first: boolean, color: boolean): string {
  if (!color) return label;
  const [c, light] = PALETTE[expert % PALETTE.length]!;
  return first ? `${ESC}1;38;5;${light ? 16 : 231};48;5;${c}m${label}${RESET}` : `${ESC}38;5;${c}m${label}${RESET}`;
}

/** Columns a string takes on a terminal (wide CJK and emoji count 2, combining marks 0). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x300 && c <= 0x36f) || c === 0x200d || (c >= 0xfe00 && c <= 0xfe0f)) continue;
    const wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) || (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

/** A token's text made visible on one line: leading/trailing spaces as '·', controls escaped, cut to `width`. */
export function visibleToken(text: string, width: number): string {
  let s = text
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    .replace(/\r/g, '\\r')
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/^ +| +$/g, (m) => '·'.repeat(m.length));
  if (s === '') s = '∅';
  if (displayWidth(s) > width) {
    let out = '';
    for (const ch of s) {
      if (displayWidth(out + ch) > width - 1) break;
      out += ch;
    }
    s = out + '…';
  }
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;

/**
 * One row per token: position, the token's text, then per layer the chosen experts (first choice first;
 * coloured per expert when `color`). At most `rows` tokens (0 = all).
 */
export function formatGrid(r: NamedReport, color: boolean, rows: number): string {
  const { report } = r;
  const w = String(report.experts - 1).length;
  const sep = w === 1 ? '' : ',';
  const cellW = Math.max(report.topK * w + (report.topK - 1) * sep.length, String(report.layers - 1).length);
  const posW = Math.max(3, String(report.tokens.length - 1).length);
  const textW = 14;
  const lines: string[] = [];
  lines.push(`${r.name}: ${report.tokens.length} tokens, top-${report.topK} of ${report.experts} experts, ${report.layers} layers`);
  const legend = Array.from({ length: report.experts }, (_, e) => paint(String(e).padStart(w), e, true, color)).join(' ');
  lines.push(`experts: ${legend}${color ? '' : '   (per layer: first choice first)'}`);
  const header = Array.from({ length: report.layers }, (_, l) => String(l).padStart(cellW)).join(' ');
  lines.push(`${' '.repeat(posW + textW + 4)}layer`);
  lines.push(`${'pos'.padStart(posW)}  ${'token'.padEnd(textW)}  ${header}`);
  const shown = rows > 0 ? report.tokens.slice(0, rows) : report.tokens;
  for (const t of shown) {
    const cells = t.layers.map((c) => {
      const labels = c.experts.map((e, i) => paint(String(e).padStart(w), e, i === 0, color));
      const plain = c.experts.map((e) => String(e).padStart(w)).join(sep);
      return ' '.repeat(Math.max(0, cellW - plain.length)) + labels.join(sep);
    });
    lines.push(`${String(t.position).padStart(posW)}  ${visibleToken(t.text, textW)}  ${cells.join(' ')}`);
  }
  if (shown.length < report.tokens.length) lines.push(`${'…'.padStart(posW)}  (${report.tokens.length - shown.length} more tokens; --rows 0 shows all)`);
  return lines.join('\n') + '\n';
}

/** Per layer: the share of token slots per expert, and the same-expert rates next to a random router's. */
export function formatSummary(r: NamedReport): string {
  const { report } = r;
  const layerW = Math.max(6, String(report.layers - 1).length);
  const head = Array.from({ length: report.experts }, (_, e) => `e${e}`.padStart(6)).join('');
  const lines = [`${'layer'.padEnd(layerW)}${head}  same top-1  same any   (expert usage: share of token slots)`];
  for (let l = 0; l < report.layers; l++) {
    const u = report.usage[l]!.map((x) => pct(x).padStart(6)).join('');
    lines.push(`${String(l).padEnd(layerW)}${u}  ${pct(report.sameExpertRate[l]!).padStart(10)}  ${pct(report.sameAnyRate[l]!).padStart(8)}`);
  }
  const pad = ' '.repeat(layerW + 6 * report.experts);
  lines.push(`${'random'.padEnd(layerW)}${pad.slice(layerW)}  ${pct(report.randomRate.sameExpert).padStart(10)}  ${pct(report.randomRate.sameAny).padStart(8)}`);
  return lines.join('\n') + '\n';
}

/** Several inputs: the same-expert rate (top-1) per layer side by side. */
export function formatComparison(rs: NamedReport[]): string {
  const names = rs.map((r) => r.name);
  const colW = Math.max(8, ...names.map((n) => displayWidth(n) + 1));
  const layers = Math.max(...rs.map((r) => r.report.layers));
  const lines = ['same top-1 expert for consecutive tokens, per layer:', `${'layer'.padEnd(6)}${names.map((n) => n.padStart(colW)).join('')}`];
  for (let l = 0; l < layers; l++)
    lines.push(`${String(l).padEnd(6)}${rs.map((r) => (r.report.sameExpertRate[l] === undefined ? '-' : pct(r.report.sameExpertRate[l]!)).padStart(colW)).join('')}`);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  lines.push(`${'mean'.padEnd(6)}${rs.map((r) => pct(mean(r.report.sameExpertRate)).padStart(colW)).join('')}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------
// SVG

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** White to dark blue, t in [0, 1]. */
function shade(t: number): string {
  const lo = [247, 251, 255], hi = [8, 48, 107];
  const c = lo.map((a, i) => Math.round(a + (hi[i]! - a) * Math.min(Math.max(t, 0), 1)));
  return `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The heatmap of expert usage per layer: one panel per input (layers x experts, cell shade = share of the
 * layer's token slots, the percentage written in the cell; one shade scale for all panels) with each
 * layer's same-expert rates beside it, a title and a legend.
 */
export function renderSvg(rs: NamedReport[], title: string): string {
  const cw = 46, ch = 22, labelW = 36, rateW = 58, gap = 36, top = 92;
  const maxShare = Math.max(1e-9, ...rs.flatMap((r) => r.report.usage.flat()));
  const panelW = (r: RouteReport): number => labelW + r.experts * cw + 8 + 2 * rateW;
  const widths = rs.map((r) => panelW(r.report));
  const width = Math.max(520, widths.reduce((a, b) => a + b, 0) + gap * (rs.length - 1) + 40);
  const maxLayers = Math.max(...rs.map((r) => r.report.layers));
  const legendY = top + maxLayers * ch + 24;
  const height = legendY + 92;
  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  o.push(`<title>${xmlEscape(title)}</title>`);
  o.push(`<defs><linearGradient id="scale" x1="0" x2="1" y1="0" y2="0"><stop offset="0" stop-color="${shade(0)}"/><stop offset="1" stop-color="${shade(1)}"/></linearGradient></defs>`);
  o.push(`<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="20" y="28" font-size="17" font-weight="bold">${xmlEscape(title)}</text>`);
  let x0 = 20;
  rs.forEach((r, i) => {
    const rep = r.report;
    const gx = x0 + labelW, rx = gx + rep.experts * cw + 8;
    o.push(`<g class="panel" data-input="${xmlEscape(r.name)}">`);
    o.push(`<text x="${x0}" y="${top - 42}" font-size="14" font-weight="bold">${xmlEscape(r.name)}<tspan dx="8" font-size="11" font-weight="normal" fill="#555555">${rep.tokens.length} tokens, top-${rep.topK} of ${rep.experts} experts</tspan></text>`);
    o.push(`<text x="${gx + (rep.experts * cw) / 2}" y="${top - 22}" font-size="11" text-anchor="middle" fill="#333333">expert</text>`);
    for (let e = 0; e < rep.experts; e++)
      o.push(`<text x="${gx + e * cw + cw / 2}" y="${top - 6}" font-size="11" text-anchor="middle">${e}</text>`);
    o.push(`<text x="${rx + rateW / 2}" y="${top - 22}" font-size="10" text-anchor="middle" fill="#333333">same</text>`);
    o.push(`<text x="${rx + rateW / 2}" y="${top - 6}" font-size="10" text-anchor="middle" fill="#333333">top-1</text>`);
    o.push(`<text x="${rx + rateW * 1.5}" y="${top - 22}" font-size="10" text-anchor="middle" fill="#333333">same</text>`);
    o.push(`<text x="${rx + rateW * 1.5}" y="${top - 6}" font-size="10" text-anchor="middle" fill="#333333">any</text>`);
    for (let l = 0; l < rep.layers; l++) {
      const y = top + l * ch;
      o.push(`<text x="${gx - 6}" y="${y + ch / 2 + 4}" font-size="11" text-anchor="end">L${l}</text>`);
      for (let e = 0; e < rep.experts; e++) {
        const s = rep.usage[l]![e]!, t = s / maxShare;
        o.push(`<g><rect class="cell" x="${gx + e * cw}" y="${y}" width="${cw}" height="${ch}" fill="${shade(t)}" stroke="#ffffff" stroke-width="1" data-input="${i}" data-layer="${l}" data-expert="${e}" data-share="${s}"/>` +
          `<text x="${gx + e * cw + cw / 2}" y="${y + ch / 2 + 4}" font-size="10" text-anchor="middle" fill="${t > 0.55 ? '#ffffff' : '#000000'}">${(s * 100).toFixed(1)}</text></g>`);
      }
      o.push(`<text class="rate" x="${rx + rateW / 2}" y="${y + ch / 2 + 4}" font-size="10" text-anchor="middle" data-layer="${l}" data-kind="top1" data-rate="${rep.sameExpertRate[l]}">${(rep.sameExpertRate[l]! * 100).toFixed(1)}%</text>`);
      o.push(`<text class="rate" x="${rx + rateW * 1.5}" y="${y + ch / 2 + 4}" font-size="10" text-anchor="middle" data-layer="${l}" data-kind="any" data-rate="${rep.sameAnyRate[l]}">${(rep.sameAnyRate[l]! * 100).toFixed(1)}%</text>`);
    }
    const ry = top + rep.layers * ch + 12;
    o.push(`<text x="${rx + rateW / 2}" y="${ry}" font-size="9" text-anchor="middle" fill="#777777">random ${(rep.randomRate.sameExpert * 100).toFixed(1)}%</text>`);
    o.push(`<text x="${rx + rateW * 1.5}" y="${ry}" font-size="9" text-anchor="middle" fill="#777777">${(rep.randomRate.sameAny * 100).toFixed(1)}%</text>`);
    o.push(`</g>`);
    x0 += widths[i]! + gap;
  });
  // Legend: the shade scale, then what the numbers mean.
  const lw = 220;
  o.push(`<g class="legend">`);
  o.push(`<rect class="legend-scale" x="20" y="${legendY}" width="${lw}" height="12" fill="url(#scale)" stroke="#999999" stroke-width="0.5"/>`);
  o.push(`<text x="20" y="${legendY + 26}" font-size="10">0%</text>`);
  o.push(`<text x="${20 + lw}" y="${legendY + 26}" font-size="10" text-anchor="end">${(maxShare * 100).toFixed(1)}%</text>`);
  o.push(`<text x="${30 + lw}" y="${legendY + 10}" font-size="10">share of a layer's token slots (tokens x top-k) routed to the expert; each row sums to 100%</text>`);
  o.push(`<text x="20" y="${legendY + 46}" font-size="10">same top-1: consecutive tokens whose first-choice expert is the same; same any: whose chosen experts overlap (Mixtral paper, section 5).</text>`);
  o.push(`<text x="20" y="${legendY + 62}" font-size="10">A router choosing at random gives the rates marked "random" under each column.</text>`);
  o.push(`</g>`);
  o.push(`</svg>`);
  return o.join('\n') + '\n';
}

// Numbers and dates as the pages show them. A missing value is shown as "—", never as "null" or "NaN".

const missing = (x) => x === null || x === undefined || Number.isNaN(x);

export const percent = (x) => (missing(x) ? "—" : `${(100 * x).toFixed(1)}%`);
// A mean score reads × 100, as on the figures' axes.
export const scoreValue = (x) => (missing(x) ? "—" : (100 * x).toFixed(1));
export const points = (x) => (missing(x) ? "—" : `${(100 * x).toFixed(1)} pts`);
export const pValue = (p) => (missing(p) ? "—" : p < 0.001 ? "<0.001" : p.toFixed(3));
export const fixed = (x, digits) => (missing(x) ? "—" : x.toFixed(digits));
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

/** "[low, high]" in the value's format, or "—" without an interval. */
export const interval = (low, high, value = percent) => (missing(low) || missing(high) ? "—" : `[${value(low)}, ${value(high)}]`);

/** An estimate with its interval: "0.42 [0.30, 0.55]". */
export const estimateText = (estimate, low, high, value) => (missing(estimate) ? "—" : `${value(estimate)} ${interval(low, high, value)}`);

/** Share of the judged responses the coherence rule marks incoherent; null when unmeasured or none judged. */
export function incoherentShare(rate) {
  const judged = rate ? rate.harmful + rate.safe + rate.unscored : 0;
  return rate && !missing(rate.incoherent) && judged > 0 ? rate.incoherent / judged : null;
}

/** A run's or condition's rate with its interval, and the counts behind it (unscored verdicts are in no rate;
 * incoherent responses are counted beside it, and stay in it). */
export function rateText(rate, value = percent) {
  if (!rate) return "—";
  const share = incoherentShare(rate);
  const incoherent = share === null ? "" : `, ${rate.incoherent} incoherent (${percent(share)})`;
  const counts = `n=${rate.harmful + rate.safe}, ${rate.unscored} unscored${incoherent}`;
  if (missing(rate.rate)) return `— (${counts})`;
  return `${value(rate.rate)} ${interval(rate.low, rate.high, value)} (${counts})`;
}

export const kappaText = (v) => (missing(v.kappa) ? "kappa undefined" : `kappa ${estimateText(v.kappa, v.kappa_low, v.kappa_high, (x) => x.toFixed(2))}`);

export const validationText = (v) => (v
  ? `${kappaText(v)}, accuracy ${percent(v.accuracy)} on ${v.validation_set} (n=${v.n}, ${v.n_unscored} unscored)`
  : "not validated");

// A minimum detectable difference past 100 points means no difference is detectable.
export const detectable = (x) => (missing(x) ? "—" : x >= 1 ? "over 100 pts" : points(x));

export const sizingText = (size) =>
  `${detectable(size.minimum_detectable_difference)} (95% range ${detectable(size.low)} to ${detectable(size.high)}) with ${size.n_seeds} seeds`;

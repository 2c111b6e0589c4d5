// Prometheus text format (version 0.0.4) parsing and per-plugin rates, without the DOM.
//
// Written by hand because the page loads nothing from outside the gateway and has no build
// step; the format is small: https://prometheus.io/docs/instrumenting/exposition_formats/

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parse a sample value: a float, or NaN, +Inf, -Inf as the format spells them. */
function parseValue(text) {
  switch (text) {
    case "+Inf":
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
    case "NaN":
      return NaN;
    default: {
      const value = Number(text);
      if (text === "" || Number.isNaN(value)) throw new SyntaxError(`bad value ${JSON.stringify(text)}`);
      return value;
    }
  }
}

/** Read `{name="value",...}` at `line[start]`; return [labels (a Map), index after `}`]. */
function parseLabels(line, start) {
  const labels = new Map();
  let i = start + 1;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === "}") return [labels, i + 1];
    const name = LABEL_NAME.exec(line.slice(i));
    if (!name) throw new SyntaxError(`bad label name at column ${i + 1}`);
    i += name[0].length;
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] !== "=") throw new SyntaxError(`expected = at column ${i + 1}`);
    i++;
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] !== '"') throw new SyntaxError(`expected " at column ${i + 1}`);
    i++;
    let value = "";
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new SyntaxError("unterminated label value");
      i++;
      if (c === '"') break;
      if (c === "\\") {
        const next = line[i++];
        value += next === "n" ? "\n" : next === "\\" ? "\\" : next === '"' ? '"' : `\\${next ?? ""}`;
      } else {
        value += c;
      }
    }
    labels.set(name[0], value);
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === ",") i++;
    else if (line[i] !== "}") throw new SyntaxError(`expected , or } at column ${i + 1}`);
  }
}

/**
 * Parse the text format into samples `{name, labels: Map, value}`.
 *
 * Comments (`# HELP`, `# TYPE`) and blank lines are skipped; a line that does not parse is
 * counted in `skipped` rather than failing the whole scrape, so one odd series cannot blank
 * the dashboard.
 */
export function parsePrometheus(text) {
  const samples = [];
  let skipped = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    try {
      const name = NAME.exec(line);
      if (!name) throw new SyntaxError("bad metric name");
      let i = name[0].length;
      let labels = new Map();
      if (line[i] === "{") [labels, i] = parseLabels(line, i);
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest.length > 2) throw new SyntaxError("expected value [timestamp]");
      samples.push({ name: name[0], labels, value: parseValue(rest[0]) });
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      skipped++;
    }
  }
  return { samples, skipped };
}

/**
 * Sum the gateway's request metrics per plugin (CONTRACT section 15): requests (over every
 * method and code), the latency histogram's `_sum` and `_count`, and requests in flight.
 * Summing also merges series that differ only by labels the page does not show (a `pid`
 * label in multiprocess mode, say). Returns a Map plugin -> totals.
 */
export function totalsByPlugin(samples) {
  const totals = new Map();
  const entry = (plugin) => {
    let t = totals.get(plugin);
    if (!t) {
      t = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0 };
      totals.set(plugin, t);
    }
    return t;
  };
  for (const { name, labels, value } of samples) {
    if (!labels.has("plugin")) continue;
    const plugin = labels.get("plugin");
    if (name === "gateway_requests_total") entry(plugin).requests += value;
    else if (name === "gateway_request_duration_seconds_sum") entry(plugin).durationSum += value;
    else if (name === "gateway_request_duration_seconds_count") entry(plugin).durationCount += value;
    else if (name === "gateway_requests_in_flight") entry(plugin).inFlight += value;
  }
  return totals;
}

/**
 * What one plugin did between two scrapes `{time (ms), totals}`: requests per second
 * (delta count / delta time) and mean latency in seconds (delta sum / delta count).
 *
 * `rate` is null when there is no earlier scrape or a counter went down (the gateway
 * restarted); `meanLatency` is null too when no request finished in between. A plugin
 * absent from the earlier scrape had no series yet, which means zero.
 */
export function pluginActivity(previous, current, plugin) {
  const now = current.totals.get(plugin);
  const inFlight = now ? now.inFlight : 0;
  const none = { rate: null, meanLatency: null, inFlight };
  if (!previous || !(current.time > previous.time)) return none;
  const zero = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0 };
  const before = previous.totals.get(plugin) ?? zero;
  const after = now ?? zero;
  const requests = after.requests - before.requests;
  const count = after.durationCount - before.durationCount;
  const sum = after.durationSum - before.durationSum;
  if (requests < 0 || count < 0 || sum < 0) return none;
  return {
    rate: requests / ((current.time - previous.time) / 1000),
    meanLatency: count > 0 ? sum / count : null,
    inFlight,
  };
}

/** "12.5 ms", "1.20 s" */
export function formatSeconds(seconds) {
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

/** "0.00/s", "12.3/s", "1500/s" */
export function formatRate(perSecond) {
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 10) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

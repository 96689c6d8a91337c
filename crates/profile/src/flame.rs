//! A flame graph as one self-contained SVG file: every frame a rectangle (the root at the
//! bottom, callees above their callers, widths proportional to samples), its name and share in
//! a tooltip, a click to zoom into a frame, Escape or "Reset zoom" to zoom out, and a search
//! (a regular expression) that highlights matching frames and says their share. Inlined
//! frames are drawn in blues with a dashed outline and marked "(inlined)", so that what the
//! compiler merged stays visible.

use std::fmt::Write;

use crate::attribute::Attributed;
use crate::report::{TreeNode, call_tree};

/// Width of the drawing, in pixels.
const WIDTH: f64 = 1200.0;
/// Height of one frame.
const FRAME_H: f64 = 16.0;
/// Room above the frames (title, controls) and below (details line).
const TOP: f64 = 48.0;
const BOTTOM: f64 = 24.0;
/// Frames narrower than this (pixels) are not drawn, nor what they call.
const MIN_WIDTH: f64 = 0.1;
/// Deepest stack drawn: a corrupt or pathological profile must not make an unbounded file.
const MAX_DEPTH: usize = 512;

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// A colour of the flame palette (reds to yellows), or blues for inlined frames, stable per
/// name.
fn colour(name: &str, inlined: bool) -> String {
    let mut h: u32 = 2166136261;
    for b in name.bytes() {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    let v1 = (h & 0xff) as f64 / 255.0;
    let v2 = ((h >> 8) & 0xff) as f64 / 255.0;
    if inlined {
        let r = 80.0 + 60.0 * v1;
        let g = 150.0 + 60.0 * v2;
        format!("rgb({},{},235)", r as u8, g as u8)
    } else {
        let r = 205.0 + 50.0 * v2;
        let g = 230.0 * v1;
        let b = 55.0 * v2;
        format!("rgb({},{},{})", r as u8, g as u8, b as u8)
    }
}

fn depth(n: &TreeNode, d: usize) -> usize {
    if d >= MAX_DEPTH {
        return d;
    }
    n.children
        .iter()
        .map(|c| depth(c, d + 1))
        .max()
        .unwrap_or(d)
}

struct Drawing<'a> {
    att: &'a Attributed,
    total: f64,
    height: f64,
    out: String,
    frames: usize,
}

impl Drawing<'_> {
    fn frame(&mut self, n: &TreeNode, x: f64, d: usize) {
        if d > MAX_DEPTH {
            return;
        }
        let w = n.total as f64 / self.total * WIDTH;
        if w < MIN_WIDTH {
            return;
        }
        if n.function != u32::MAX {
            let name = self.att.name(n.function);
            let y = self.height - BOTTOM - (d as f64) * FRAME_H;
            let share = n.total as f64 * 100.0 / self.total;
            let value = self.att.ms(n.total);
            let unit = if self.att.value_type.1 == "nanoseconds" {
                "ms"
            } else {
                &self.att.value_type.1
            };
            self.out.push_str("<g class=\"f");
            if n.inlined {
                self.out.push_str(" i");
            }
            let _ = write!(
                self.out,
                "\" data-x=\"{:.6}\" data-w=\"{:.6}\" data-d=\"{d}\"><title>",
                x / WIDTH,
                w / WIDTH
            );
            escape(name, &mut self.out);
            if n.inlined {
                self.out.push_str(" (inlined)");
            }
            let _ = write!(self.out, " — {value:.2} {unit}, {share:.2}%</title>");
            let _ = write!(
                self.out,
                "<rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{}\"",
                FRAME_H - 1.0,
                colour(name, n.inlined)
            );
            if n.inlined {
                self.out
                    .push_str(" stroke=\"rgb(20,40,120)\" stroke-dasharray=\"3,2\"");
            }
            let _ = write!(
                self.out,
                " rx=\"2\"/><text x=\"{:.2}\" y=\"{:.1}\">",
                x + 3.0,
                y + FRAME_H - 4.5
            );
            // The label is filled in by the script at load (it fits names to widths).
            self.out.push_str("</text></g>\n");
            self.frames += 1;
        }
        let mut cx = x;
        for c in &n.children {
            self.frame(c, cx, d + 1);
            cx += c.total as f64 / self.total * WIDTH;
        }
    }
}

/// The flame graph of `att` as an SVG document titled `title`.
pub fn flame_svg(att: &Attributed, title: &str) -> String {
    let mut root = call_tree(att);
    sort_children(&mut root, att);
    let total = root.total.max(1) as f64;
    let levels = depth(&root, 0);
    let height = TOP + BOTTOM + levels as f64 * FRAME_H + 8.0;
    let mut d = Drawing {
        att,
        total,
        height,
        out: String::with_capacity(1 << 16),
        frames: 0,
    };
    let _ = write!(
        d.out,
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" xmlns=\"http://www.w3.org/2000/svg\" \
         onload=\"init(evt)\">\n<style>{STYLE}</style>\n\
         <rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fafaf5\"/>\n\
         <text id=\"title\" x=\"{}\" y=\"20\" text-anchor=\"middle\">",
        WIDTH / 2.0
    );
    escape(title, &mut d.out);
    let _ = write!(
        d.out,
        "</text>\n<text id=\"reset\" x=\"10\" y=\"40\" class=\"ctl\" visibility=\"hidden\">Reset zoom</text>\
         <text id=\"search\" x=\"{}\" y=\"40\" class=\"ctl\">Search</text>\
         <text id=\"matched\" x=\"{}\" y=\"{:.0}\"></text>\
         <text id=\"details\" x=\"10\" y=\"{:.0}\"> </text>\n<g id=\"frames\">\n",
        WIDTH - 60.0,
        WIDTH - 160.0,
        height - 6.0,
        height - 6.0
    );
    d.frame(&root, 0.0, 0);
    d.out
        .push_str("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n");
    d.out.push_str(SCRIPT);
    d.out.push_str("\n]]></script>\n</svg>\n");
    d.out
}

/// Children in name order (as flame graphs draw them: position carries no time).
fn sort_children(n: &mut TreeNode, att: &Attributed) {
    n.children
        .sort_by(|a, b| att.name(a.function).cmp(att.name(b.function)));
    for c in &mut n.children {
        sort_children(c, att);
    }
}

const STYLE: &str = "text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; } \
#title { font-size: 17px; } .ctl { cursor: pointer; fill: #235; } \
.f { cursor: pointer; } .f:hover rect { stroke: #000; stroke-width: 0.5; } \
.f text { pointer-events: none; font-size: 11px; }";

/// The interactive part: labels fitted to widths, zoom, search. Frames carry their position
/// as fractions of the whole (`data-x`, `data-w`) and their depth (`data-d`).
const SCRIPT: &str = r#"
var W = 1200, frames, details, zoomed = null, searchRe = null;
function init(evt) {
  frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  details = document.getElementById("details");
  frames.forEach(function (g) {
    g.addEventListener("click", function () { zoom(g); });
    g.addEventListener("mouseover", function () { details.textContent = g.querySelector("title").textContent; });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
  });
  document.getElementById("reset").addEventListener("click", unzoom);
  document.getElementById("search").addEventListener("click", function () {
    var re = prompt("Search frames (regular expression):", searchRe ? searchRe.source : "");
    if (re !== null) search(re);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") unzoom();
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); document.getElementById("search").dispatchEvent(new Event("click")); }
  });
  layout(0, 1, -1);
}
function nameOf(g) { var t = g.querySelector("title").textContent; return t.slice(0, t.lastIndexOf(" — ")); }
function fit(g, w) {
  var text = g.querySelector("text"), name = nameOf(g), n = Math.floor((w - 6) / 7);
  text.textContent = n < 3 ? "" : (name.length <= n ? name : name.slice(0, n - 2) + "..");
}
function layout(x0, w0, d0) {
  frames.forEach(function (g) {
    var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d, rect = g.querySelector("rect"), text = g.querySelector("text");
    var inside = x >= x0 - 1e-9 && x + w <= x0 + w0 + 1e-9;
    var below = d <= d0 && x <= x0 + 1e-9 && x + w >= x0 + w0 - 1e-9;
    if (d0 >= 0 && !(inside && d >= d0) && !below) { g.style.display = "none"; return; }
    g.style.display = "";
    var nx = below ? 0 : (x - x0) / w0 * W, nw = below ? W : w / w0 * W;
    rect.setAttribute("x", nx.toFixed(2)); rect.setAttribute("width", nw.toFixed(2));
    text.setAttribute("x", (nx + 3).toFixed(2));
    g.style.opacity = below && d < d0 ? 0.6 : 1;
    fit(g, nw);
  });
}
function zoom(g) {
  zoomed = g;
  layout(+g.dataset.x, +g.dataset.w, +g.dataset.d);
  document.getElementById("reset").setAttribute("visibility", "visible");
}
function unzoom() {
  zoomed = null;
  layout(0, 1, -1);
  document.getElementById("reset").setAttribute("visibility", "hidden");
}
function search(re) {
  var matched = document.getElementById("matched");
  frames.forEach(function (g) { g.querySelector("rect").style.fill = ""; });
  if (re === "") { searchRe = null; matched.textContent = ""; return; }
  try { searchRe = new RegExp(re); } catch (e) { matched.textContent = "bad expression"; return; }
  var spans = [];
  frames.forEach(function (g) {
    if (searchRe.test(nameOf(g))) {
      g.querySelector("rect").style.fill = "rgb(230,0,230)";
      spans.push([+g.dataset.x, +g.dataset.x + +g.dataset.w]);
    }
  });
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;
  spans.forEach(function (s) {
    if (s[0] >= end) { covered += s[1] - s[0]; end = s[1]; }
    else if (s[1] > end) { covered += s[1] - end; end = s[1]; }
  });
  matched.textContent = "Matched: " + (covered * 100).toFixed(1) + "%";
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_for_xml() {
        let mut s = String::new();
        escape("main.(*T[int]).M<&>\"'", &mut s);
        assert_eq!(s, "main.(*T[int]).M&lt;&amp;&gt;&quot;&apos;");
    }
}

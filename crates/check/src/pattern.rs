//! Name patterns of policies: globs over Go symbol names and package paths, and the package of
//! a symbol.

use std::borrow::Cow;

/// A glob: `*` matches any run of characters (including `/` and `.`), `?` one character,
/// everything else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
}

impl Glob {
    /// A glob from its text.
    pub fn new(text: &str) -> Glob {
        Glob {
            text: text.to_string(),
        }
    }

    /// The glob's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the glob matches all of `s`.
    pub fn matches(&self, s: &str) -> bool {
        glob_match(self.text.as_bytes(), s.as_bytes())
    }
}

/// Iterative glob matching with one backtrack point (linear for a single `*`, never
/// exponential).
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

/// The package path of a Go symbol, as the linker spells it: the text before the first `.`
/// after the last `/` (type arguments of generic instantiations ignored), with the `%2e`
/// escapes of dots in the last path element undone. `example.com/x/hot.(*T).M` →
/// `example.com/x/hot`; `main.main` → `main`; `gopkg.in/yaml%2ev3.Marshal` → `gopkg.in/yaml.v3`.
pub fn package_of(symbol: &str) -> Cow<'_, str> {
    let head = match symbol.find('[') {
        Some(i) => &symbol[..i],
        None => symbol,
    };
    let last_slash = head.rfind('/').map_or(0, |i| i + 1);
    let pkg = match head[last_slash..].find('.') {
        Some(i) => &head[..last_slash + i],
        None => head,
    };
    if pkg.contains("%2e") {
        Cow::Owned(pkg.replace("%2e", "."))
    } else {
        Cow::Borrowed(pkg)
    }
}

/// A symbol name without the linker's ABI suffix (`.abi0`) and with type arguments shown as
/// `[...]`, the way directives and policies name functions.
pub fn source_name(symbol: &str) -> Cow<'_, str> {
    let s = symbol.strip_suffix(".abi0").unwrap_or(symbol);
    match goscope_binary::print_name(s) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = Glob::new("example.com/x/hot.*");
        assert!(g.matches("example.com/x/hot.F"));
        assert!(g.matches("example.com/x/hot.(*T).M"));
        assert!(!g.matches("example.com/x/hotter.F"));
        assert!(Glob::new("*.WB*").matches("a/b.WBStore"));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("**a*b*").matches("xxaxxbxx"));
        assert!(!Glob::new("*a*b").matches("xxaxxbxx"));
        assert!(Glob::new(&"*a".repeat(20)).matches(&"a".repeat(40)));
    }

    #[test]
    fn packages() {
        assert_eq!(package_of("example.com/x/hot.(*T).M"), "example.com/x/hot");
        assert_eq!(package_of("main.main"), "main");
        assert_eq!(package_of("gopkg.in/yaml%2ev3.Marshal"), "gopkg.in/yaml.v3");
        assert_eq!(
            package_of("example.com/x.Sum[go.shape.int,example.com/y.T]"),
            "example.com/x"
        );
        assert_eq!(package_of("runtime.newobject"), "runtime");
        assert_eq!(source_name("runtime.memmove.abi0"), "runtime.memmove");
        assert_eq!(source_name("p.Sum[go.shape.int]"), "p.Sum[...]");
    }
}

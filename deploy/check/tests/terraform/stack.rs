//! The parsed Terraform: every top-level block of every `*.tf` file, and small helpers to
//! look into bodies and HCL object expressions without caring how a key was written.

use std::fs;
use std::path::Path;

use hcl::{Block, Body, Expression, ObjectKey};

/// All top-level blocks of a Terraform configuration, each with the file it came from.
pub struct Stack {
    blocks: Vec<(String, Block)>,
}

/// One labelled block: `resource "type" "name"` or `module "name"`.
pub struct Item<'a> {
    /// File the block is in (for messages).
    pub file: &'a str,
    /// The block's name label.
    pub name: &'a str,
    /// The block's body.
    pub body: &'a Body,
}

impl Stack {
    /// Parses every `*.tf` file of `dir` (not recursive), in name order.
    pub fn load_dir(dir: &Path) -> Result<Self, String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tf"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("no *.tf file in {}", dir.display()));
        }
        let mut stack = Stack { blocks: Vec::new() };
        for path in files {
            let src = fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            stack.add(&name, &src)?;
        }
        Ok(stack)
    }

    /// Parses one piece of HCL (a test snippet) as the whole configuration.
    pub fn parse(file: &str, src: &str) -> Result<Self, String> {
        let mut stack = Stack { blocks: Vec::new() };
        stack.add(file, src)?;
        Ok(stack)
    }

    fn add(&mut self, file: &str, src: &str) -> Result<(), String> {
        let body = hcl::parse(src).map_err(|e| format!("{file}: HCL parse error: {e}"))?;
        self.blocks
            .extend(body.into_blocks().map(|b| (file.to_owned(), b)));
        Ok(())
    }

    /// Every `resource "<kind>" "<name>"` block.
    pub fn resources<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = Item<'a>> + 'a {
        self.labelled("resource", Some(kind))
    }

    /// Every `module "<name>"` block.
    pub fn modules(&self) -> impl Iterator<Item = Item<'_>> + '_ {
        self.labelled("module", None)
    }

    /// Whether `resource "<kind>" "<name>"` exists.
    pub fn has_resource(&self, kind: &str, name: &str) -> bool {
        self.resources(kind).any(|r| r.name == name)
    }

    /// Every top-level block named `ident` (`terraform`, `provider`...).
    pub fn top<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks
            .iter()
            .filter(move |(_, b)| b.identifier() == ident)
            .map(|(_, b)| b)
    }

    fn labelled<'a>(
        &'a self,
        ident: &'a str,
        kind: Option<&'a str>,
    ) -> impl Iterator<Item = Item<'a>> + 'a {
        self.blocks.iter().filter_map(move |(file, b)| {
            if b.identifier() != ident {
                return None;
            }
            let labels = b.labels();
            let (first, name) = match kind {
                Some(_) => (labels.first()?.as_str(), labels.get(1)?.as_str()),
                None => ("", labels.first()?.as_str()),
            };
            if kind.is_some_and(|k| k != first) {
                return None;
            }
            Some(Item {
                file,
                name,
                body: b.body(),
            })
        })
    }
}

/// The expression of attribute `key` in `body`.
pub fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// Nested blocks named `ident` in `body`.
pub fn blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == ident)
}

/// The text of an object key, however it was written (`a`, `"a"`, `(expr)`).
pub fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_owned(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => other.to_string(),
    }
}

/// The `(key, value)` pairs of an object expression; `None` when it is not an object literal.
pub fn entries(expr: &Expression) -> Option<Vec<(String, &Expression)>> {
    match expr {
        Expression::Object(obj) => Some(obj.iter().map(|(k, v)| (key_name(k), v)).collect()),
        Expression::Parenthesis(inner) => entries(inner),
        _ => None,
    }
}

/// Field `key` of an object expression.
pub fn get<'a>(expr: &'a Expression, key: &str) -> Option<&'a Expression> {
    match expr {
        Expression::Object(obj) => obj.iter().find(|(k, _)| key_name(k) == key).map(|(_, v)| v),
        _ => None,
    }
}

/// The items of an array expression (empty when it is not one).
pub fn items(expr: Option<&Expression>) -> &[Expression] {
    match expr {
        Some(Expression::Array(a)) => a,
        _ => &[],
    }
}

/// The value of a literal string expression.
pub fn string(expr: Option<&Expression>) -> Option<&str> {
    match expr {
        Some(Expression::String(s)) => Some(s),
        _ => None,
    }
}

/// Whether the expression is the literal `true` / `false` given.
pub fn is_bool(expr: Option<&Expression>, want: bool) -> bool {
    matches!(expr, Some(Expression::Bool(b)) if *b == want)
}

/// Source text of an expression (`aws_lb.app.arn`, `"text"`, `var.x + 5`).
pub fn text(expr: Option<&Expression>) -> String {
    expr.map_or_else(String::new, ToString::to_string)
}

/// For a reference `kind.name.attr` (e.g. `aws_security_group.db.id`), the name when the
/// kind and attribute match.
pub fn reference(expr: Option<&Expression>, kind: &str, attribute: &str) -> Option<String> {
    let Some(Expression::Traversal(_)) = expr else {
        return None;
    };
    let t = text(expr);
    let rest = t.strip_prefix(kind)?.strip_prefix('.')?;
    let name = rest.strip_suffix(attribute)?.strip_suffix('.')?;
    (!name.is_empty() && !name.contains('.')).then(|| name.to_owned())
}

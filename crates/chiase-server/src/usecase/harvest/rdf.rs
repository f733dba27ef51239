//! A DCAT page read into triples (oxigraph's parsers: Turtle, RDF/XML,
//! JSON-LD with its context inline), and the `dcat:Dataset`s and the next
//! page's link found in them.

use std::collections::HashMap;

use oxrdf::{NamedOrBlankNode, Term};
use serde_json::json;

use super::remote::{RemoteEntry, entry_hash};

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF_NAME: &str = "http://xmlns.com/foaf/0.1/name";
const VCARD_FN: &str = "http://www.w3.org/2006/vcard/ns#fn";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
/// The most triples one page may hold.
const MAX_TRIPLES: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Node(String),
    Literal { value: String, lang: Option<String> },
}

pub struct Graph {
    by_subject: HashMap<String, Vec<(String, Obj)>>,
}

fn node(s: &NamedOrBlankNode) -> String {
    match s {
        NamedOrBlankNode::NamedNode(n) => n.as_str().to_string(),
        NamedOrBlankNode::BlankNode(b) => format!("_:{}", b.as_str()),
    }
}

fn obj(t: &Term) -> Option<Obj> {
    match t {
        Term::NamedNode(n) => Some(Obj::Node(n.as_str().to_string())),
        Term::BlankNode(b) => Some(Obj::Node(format!("_:{}", b.as_str()))),
        Term::Literal(l) => Some(Obj::Literal { value: l.value().to_string(), lang: l.language().map(str::to_string) }),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Reads a page by its media type (Turtle when none is said).
pub fn parse(body: &[u8], content_type: &str, base: &str) -> Result<Graph, String> {
    let mut by_subject: HashMap<String, Vec<(String, Obj)>> = HashMap::new();
    let mut n = 0usize;
    let mut add = |s: String, p: String, o: Option<Obj>| -> Result<(), String> {
        n += 1;
        if n > MAX_TRIPLES {
            return Err(format!("more than {MAX_TRIPLES} triples"));
        }
        if let Some(o) = o {
            by_subject.entry(s).or_default().push((p, o));
        }
        Ok(())
    };
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/ld+json" | "application/json" => {
            let parser = oxjsonld::JsonLdParser::new().with_base_iri(base).map_err(|e| e.to_string())?;
            for q in parser.for_slice(body) {
                let q = q.map_err(|e| format!("not JSON-LD: {e}"))?;
                add(node(&q.subject), q.predicate.as_str().to_string(), obj(&q.object))?;
            }
        }
        "application/rdf+xml" | "application/xml" | "text/xml" => {
            let parser = oxrdfxml::RdfXmlParser::new().with_base_iri(base).map_err(|e| e.to_string())?;
            for t in parser.for_slice(body) {
                let t = t.map_err(|e| format!("not RDF/XML: {e}"))?;
                add(node(&t.subject), t.predicate.as_str().to_string(), obj(&t.object))?;
            }
        }
        _ => {
            let parser = oxttl::TurtleParser::new().with_base_iri(base).map_err(|e| e.to_string())?;
            for t in parser.for_slice(body) {
                let t = t.map_err(|e| format!("not Turtle: {e}"))?;
                add(node(&t.subject), t.predicate.as_str().to_string(), obj(&t.object))?;
            }
        }
    }
    Ok(Graph { by_subject })
}

impl Graph {
    fn objects<'a>(&'a self, s: &str, p: &'a str) -> impl Iterator<Item = &'a Obj> + 'a {
        self.by_subject.get(s).into_iter().flatten().filter(move |(pp, _)| pp == p).map(|(_, o)| o)
    }

    /// A literal of `s`'s `p`: the Vietnamese one first, then one without
    /// a language, then any.
    fn literal(&self, s: &str, p: &str) -> Option<String> {
        let lits: Vec<(&String, &Option<String>)> = self
            .objects(s, p)
            .filter_map(|o| match o {
                Obj::Literal { value, lang } => Some((value, lang)),
                Obj::Node(_) => None,
            })
            .collect();
        lits.iter()
            .find(|(_, l)| l.as_deref() == Some("vi"))
            .or_else(|| lits.iter().find(|(_, l)| l.is_none()))
            .or_else(|| lits.first())
            .map(|(v, _)| v.to_string())
    }

    fn node_of(&self, s: &str, p: &str) -> Option<String> {
        self.objects(s, p).find_map(|o| match o {
            Obj::Node(n) => Some(n.clone()),
            Obj::Literal { .. } => None,
        })
    }

    /// Every `dcat:Dataset` (not the catalog's services) as an entry.
    pub fn datasets(&self) -> Vec<RemoteEntry> {
        let mut subjects: Vec<&String> = self
            .by_subject
            .iter()
            .filter(|(_, po)| po.iter().any(|(p, o)| p == RDF_TYPE && *o == Obj::Node(format!("{DCAT}Dataset"))))
            .map(|(s, _)| s)
            .collect();
        subjects.sort();
        subjects
            .into_iter()
            .map(|s| {
                let title = self.literal(s, &format!("{DCT}title")).unwrap_or_else(|| s.clone());
                let description = self.literal(s, &format!("{DCT}description")).unwrap_or_default();
                let publisher = self.node_of(s, &format!("{DCT}publisher")).and_then(|p| {
                    self.literal(&p, FOAF_NAME).or_else(|| self.literal(&p, VCARD_FN)).or_else(|| (!p.starts_with("_:")).then_some(p))
                });
                let formats: Vec<String> = self
                    .objects(s, &format!("{DCAT}distribution"))
                    .filter_map(|d| match d {
                        Obj::Node(d) => self.node_of(d, &format!("{DCT}format")).or_else(|| self.literal(d, &format!("{DCT}format"))),
                        Obj::Literal { .. } => None,
                    })
                    .collect();
                let themes: Vec<String> = self
                    .objects(s, &format!("{DCAT}theme"))
                    .filter_map(|o| match o {
                        Obj::Node(n) => Some(n.clone()),
                        Obj::Literal { .. } => None,
                    })
                    .collect();
                let metadata = json!({
                    "uri": s,
                    "identifier": self.literal(s, &format!("{DCT}identifier")),
                    "access_rights": self.node_of(s, &format!("{DCT}accessRights")),
                    "accrual_periodicity": self.node_of(s, &format!("{DCT}accrualPeriodicity")),
                    "themes": themes,
                    "formats": formats,
                    "keywords": self.objects(s, &format!("{DCAT}keyword")).filter_map(|o| match o { Obj::Literal { value, .. } => Some(value.clone()), Obj::Node(_) => None }).collect::<Vec<_>>(),
                });
                let remote_id = self.literal(s, &format!("{DCT}identifier")).unwrap_or_else(|| s.clone());
                let hash = entry_hash(&metadata, &title, &description);
                RemoteEntry {
                    remote_id,
                    title,
                    description,
                    publisher,
                    landing_url: self.node_of(s, &format!("{DCAT}landingPage")).or_else(|| (!s.starts_with("_:")).then(|| s.clone())),
                    modified: self.literal(s, &format!("{DCT}modified")),
                    metadata,
                    data: None,
                    hash,
                }
            })
            .collect()
    }

    /// The next page's URL (Hydra's `next`, or its older `nextPage`).
    pub fn next_page(&self) -> Option<String> {
        for po in self.by_subject.values() {
            for (p, o) in po {
                if (p == &format!("{HYDRA}next") || p == &format!("{HYDRA}nextPage"))
                    && let Obj::Node(n) | Obj::Literal { value: n, .. } = o
                {
                    return Some(n.clone());
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_and_the_next_page_are_found() {
        let ttl = r#"
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix hydra: <http://www.w3.org/ns/hydra/core#> .
<http://x/dataset/1> a dcat:Dataset ; dct:title "Cơ sở dữ liệu A"@vi, "Database A"@en ; dct:identifier "1" ;
  dct:description "Mô tả" ; dct:publisher [ foaf:name "Sở Y tế" ] .
<http://x/catalog.ttl?page=1> hydra:next <http://x/catalog.ttl?page=2> .
"#;
        let g = parse(ttl.as_bytes(), "text/turtle; charset=utf-8", "http://x/catalog.ttl").unwrap();
        let ds = g.datasets();
        assert_eq!(ds.len(), 1);
        assert_eq!((ds[0].title.as_str(), ds[0].remote_id.as_str(), ds[0].publisher.as_deref()), ("Cơ sở dữ liệu A", "1", Some("Sở Y tế")));
        assert_eq!(g.next_page().as_deref(), Some("http://x/catalog.ttl?page=2"));
        assert!(parse(b"<not turtle", "text/turtle", "http://x/").is_err());
    }
}

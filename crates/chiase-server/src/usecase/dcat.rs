//! The catalog as DCAT (DCAT-AP 3): graphs of the catalog, of one catalog
//! database and of the theme vocabulary, written as Turtle, JSON-LD or
//! RDF/XML by oxigraph's serializers (which escape every IRI and literal).
//!
//! Mapping, consistent with the CKAN Action API (package = catalog
//! database, resource = hosted dataset):
//! - a **catalog database** is a `dcat:Dataset` (`{base}/dataset/{id}`),
//!   all of the current decision's entries, hosted data or not;
//! - its **distributions** are its hosted datasets × the export formats
//!   (CSV, JSON, NDJSON, XLSX, GeoJSON when the dataset has geometry), and
//!   one Data Package of the database when it hosts any. A hosted
//!   dataset's own title and description are its distributions' (with the
//!   format); its sharing mode is the distributions' `dct:rights` (a
//!   `dct:RightsStatement` per mode, `{base}/sharing/{mode}`);
//! - the database's `dct:accessRights` is the **most restrictive** mode
//!   among what it serves: its hosted datasets' modes when it hosts any,
//!   else the modes the catalog gives it (open → PUBLIC, default →
//!   RESTRICTED, specific/legal → NON_PUBLIC). A database whose catalog
//!   entry opens only part of it is therefore not PUBLIC as a whole;
//! - its theme is the themes its stewards set on its hosted datasets, else
//!   the proposal from the owner agency's name, each as the national theme
//!   and its EU data theme.
//!
//! DCAT is public like the catalog and the same for every reader: it is
//! built as the public sees it (`Caller::anonymous`), so a restricted
//! dataset's data change time never shows (its description's,
//! `described_at`, does; not `updated_at`, which writes move) and no row
//! is ever read.

use std::collections::{BTreeSet, HashMap, HashSet};

use chiase_core::catalog::Cadence;
use chiase_core::fold::nfc;
use chiase_core::sharing::SharingMode;
use chiase_core::theme::{self, Match, Theme};
use chiase_store::agencies::{AgencyFilter, ContactRow};
use chiase_store::metadata::DatabaseRecord;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{GraphNameRef, Literal, NamedNode, NamedNodeRef, Term, Triple};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::datasets::Listed;

/// Datasets on a page of `/catalog.*` (ckanext-dcat's default).
pub const PAGE_SIZE: usize = 100;

/// The serialisations offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdfFormat {
    Turtle,
    JsonLd,
    RdfXml,
}

impl RdfFormat {
    pub const ALL: [RdfFormat; 3] = [RdfFormat::Turtle, RdfFormat::JsonLd, RdfFormat::RdfXml];

    pub fn extension(self) -> &'static str {
        match self {
            RdfFormat::Turtle => "ttl",
            RdfFormat::JsonLd => "jsonld",
            RdfFormat::RdfXml => "rdf",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            RdfFormat::Turtle => "text/turtle",
            RdfFormat::JsonLd => "application/ld+json",
            RdfFormat::RdfXml => "application/rdf+xml",
        }
    }

    pub fn from_extension(ext: &str) -> Option<RdfFormat> {
        RdfFormat::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// What an `Accept` header prefers among HTML and the RDF formats:
    /// `Some(format)` when an RDF format ranks strictly above HTML (a
    /// browser's `text/html, */*` keeps the page). Quality values honoured.
    pub fn negotiate(accept: &str) -> Option<RdfFormat> {
        let mut html = -1.0f32;
        let mut best: Option<(f32, RdfFormat)> = None;
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let media = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            match media.as_str() {
                "text/html" | "application/xhtml+xml" | "*/*" | "text/*" => html = html.max(q),
                m => {
                    if let Some(f) = RdfFormat::ALL.into_iter().find(|f| f.media_type() == m)
                        && best.is_none_or(|(bq, _)| q > bq)
                    {
                        best = Some((q, f));
                    }
                }
            }
        }
        best.filter(|(q, _)| *q > html).map(|(_, f)| f)
    }
}

/// Namespaces, with the prefixes the serialisations declare.
const PREFIXES: [(&str, &str); 9] = [
    ("dcat", DCAT),
    ("dct", DCT),
    ("foaf", FOAF),
    ("vcard", VCARD),
    ("skos", SKOS),
    ("hydra", HYDRA),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("rdfs", RDFS),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
];
const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
/// The EU's authority tables (access rights, frequencies, file types,
/// languages, licences, countries).
const EU: &str = "http://publications.europa.eu/resource/authority/";
const IANA: &str = "https://www.iana.org/assignments/media-types/";

/// The province every entry covers (`dct:spatial`), and the publisher of
/// the catalog. chiase serves Tuyên Quang's catalog (Decision 641/QĐ-UBND).
const PROVINCE_VI: &str = "Tỉnh Tuyên Quang";
const PROVINCE_EN: &str = "Tuyên Quang Province";
const PROVINCE_SLUG: &str = "tuyen-quang";
const PUBLISHER_VI: &str = "Ủy ban nhân dân tỉnh Tuyên Quang";
const PUBLISHER_EN: &str = "People's Committee of Tuyên Quang Province";

/// A term of a vocabulary, e.g. `t(DCAT, "Dataset")`.
fn t(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

/// The triples of a graph, in the order written, each once.
#[derive(Default)]
pub struct Graph {
    triples: Vec<Triple>,
    seen: HashSet<Triple>,
}

impl Graph {
    fn add(&mut self, s: &NamedNode, p: NamedNode, o: impl Into<Term>) {
        let triple = Triple::new(s.clone(), p, o);
        if self.seen.insert(triple.clone()) {
            self.triples.push(triple);
        }
    }

    fn a(&mut self, s: &NamedNode, class: NamedNode) {
        self.add(s, rdf::TYPE.into_owned(), class);
    }

    /// Text in a language, in NFC; nothing when empty.
    fn text(&mut self, s: &NamedNode, p: NamedNode, value: &str, lang: &str) {
        let value = nfc(value.trim());
        if !value.is_empty() {
            self.add(s, p, Literal::new_language_tagged_literal_unchecked(value, lang));
        }
    }

    fn plain(&mut self, s: &NamedNode, p: NamedNode, value: &str) {
        self.add(s, p, Literal::new_simple_literal(nfc(value)));
    }

    fn typed(&mut self, s: &NamedNode, p: NamedNode, value: String, datatype: NamedNodeRef<'_>) {
        self.add(s, p, Literal::new_typed_literal(value, datatype));
    }

    fn date_time(&mut self, s: &NamedNode, p: NamedNode, at: DateTime<Utc>) {
        self.typed(s, p, at.to_rfc3339_opts(SecondsFormat::Secs, true), xsd::DATE_TIME);
    }

    fn date(&mut self, s: &NamedNode, p: NamedNode, on: NaiveDate) {
        self.typed(s, p, on.format("%Y-%m-%d").to_string(), xsd::DATE);
    }

    /// How many triples (for tests and logs).
    pub fn len(&self) -> usize {
        self.triples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }

    /// The graph in `format`, triples grouped by subject (first seen first).
    pub fn write(&self, format: RdfFormat) -> Result<Vec<u8>, ApiError> {
        let mut order: HashMap<&oxrdf::NamedOrBlankNode, usize> = HashMap::new();
        for tr in &self.triples {
            let n = order.len();
            order.entry(&tr.subject).or_insert(n);
        }
        let mut sorted: Vec<&Triple> = self.triples.iter().collect();
        sorted.sort_by_key(|tr| order[&tr.subject]);
        let failed = |e: std::io::Error| ApiError::internal(&format!("RDF serialisation: {e}"));
        let bad_prefix = |e: oxrdf::IriParseError| ApiError::internal(&format!("RDF prefix: {e}"));
        match format {
            RdfFormat::Turtle => {
                let mut s = oxttl::TurtleSerializer::new();
                for (p, ns) in PREFIXES {
                    s = s.with_prefix(p, ns).map_err(bad_prefix)?;
                }
                let mut w = s.for_writer(Vec::new());
                for tr in sorted {
                    w.serialize_triple(tr.as_ref()).map_err(failed)?;
                }
                w.finish().map_err(failed)
            }
            RdfFormat::RdfXml => {
                let mut s = oxrdfxml::RdfXmlSerializer::new();
                for (p, ns) in PREFIXES {
                    s = s.with_prefix(p, ns).map_err(bad_prefix)?;
                }
                let mut w = s.for_writer(Vec::new());
                for tr in sorted {
                    w.serialize_triple(tr.as_ref()).map_err(failed)?;
                }
                w.finish().map_err(failed)
            }
            RdfFormat::JsonLd => {
                let mut s = oxjsonld::JsonLdSerializer::new();
                for (p, ns) in PREFIXES {
                    s = s.with_prefix(p, ns).map_err(bad_prefix)?;
                }
                let mut w = s.for_writer(Vec::new());
                for tr in sorted {
                    w.serialize_quad(tr.as_ref().in_graph(GraphNameRef::DefaultGraph)).map_err(failed)?;
                }
                w.finish().map_err(failed)
            }
        }
    }
}

/// Where chiase is reached: the base of every URI in the graphs.
#[derive(Debug, Clone)]
pub struct Base(String);

impl Base {
    /// `public_url` when set, else the request's origin; refused when it
    /// cannot start an IRI (a Host header with odd characters).
    pub fn new(app: &AppState, request_origin: &str) -> Result<Base, ApiError> {
        let base = match app.config.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(_) => app.config.public_base(),
            None => request_origin.to_string(),
        };
        NamedNode::new(format!("{base}/")).map_err(|_| {
            ApiError::bad_request("địa chỉ máy chủ (Host) không dùng được để đặt tên URI", "the Host the request names cannot start a URI")
        })?;
        Ok(Base(base))
    }

    /// A URI under the base; the path is chiase's own (slugs, fixed words).
    fn at(&self, path: &str) -> NamedNode {
        NamedNode::new(format!("{}{path}", self.0)).unwrap_or_else(|_| NamedNode::new_unchecked(format!("{}/invalid", self.0)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn database(&self, id: &str) -> NamedNode {
        self.at(&format!("/dataset/{id}"))
    }

    pub fn theme(&self, t: Theme) -> NamedNode {
        self.at(&format!("/themes/{}", t.code()))
    }

    pub fn theme_scheme(&self) -> NamedNode {
        self.at("/themes")
    }

    fn catalog(&self) -> NamedNode {
        self.at("/catalog")
    }
}

/// Everything the graphs are made of, read once per response.
struct Sources {
    records: Vec<DatabaseRecord>,
    /// Hosted datasets by database id, as the public sees them.
    hosted: HashMap<String, Vec<Listed>>,
    contacts: HashMap<String, ContactRow>,
    /// The current decision: its number and date.
    decision: Option<(String, NaiveDate)>,
    /// Services registered for the gateway (issue 13), each a `dcat:DataService`.
    services: Vec<chiase_store::services::Service>,
}

async fn sources(app: &AppState) -> Result<Sources, ApiError> {
    let records = app.store.database_records().await?;
    let mut hosted: HashMap<String, Vec<Listed>> = HashMap::new();
    for l in crate::usecase::datasets::list(app, &Caller::anonymous(None), None).await? {
        hosted.entry(l.dataset.database.id.clone()).or_default().push(l);
    }
    let contacts = app.store.agencies(&AgencyFilter::default()).await?.into_iter().map(|a| (a.id, a.contact)).collect();
    let decision = app.store.catalog_versions().await?.last().map(|v| (v.decision_no.clone(), v.decision_date));
    let services = app.store.services().await?;
    Ok(Sources { records, hosted, contacts, decision, services })
}

impl Sources {
    fn hosted_of(&self, db: &str) -> &[Listed] {
        self.hosted.get(db).map(Vec::as_slice).unwrap_or(&[])
    }

    /// When a database's description last changed, as the public may
    /// know it: its catalog entry, its hosted datasets' descriptions, and
    /// the data of those the public may read (a restricted dataset's data
    /// time is withheld, as in `usecase::datasets::list`).
    fn modified(&self, r: &DatabaseRecord) -> DateTime<Utc> {
        self.hosted_of(&r.id)
            .iter()
            .flat_map(|l| [Some(l.dataset.described_at), l.activity.as_ref().and_then(|a| a.data_updated_at)])
            .flatten()
            .fold(r.updated_at, DateTime::max)
    }

    /// The themes of a database: those set on its hosted datasets, else the
    /// proposal from its owner's name.
    fn themes(&self, r: &DatabaseRecord) -> BTreeSet<Theme> {
        let set: BTreeSet<Theme> = self.hosted_of(&r.id).iter().filter_map(|l| l.dataset.theme).collect();
        if set.is_empty() { theme::propose(&r.owner.name).into_iter().collect() } else { set }
    }

    /// Databases with an open hosted dataset (served by the APIs without an account).
    fn open_databases(&self) -> Vec<&DatabaseRecord> {
        self.records.iter().filter(|r| self.hosted_of(&r.id).iter().any(|l| l.dataset.sharing_mode == SharingMode::Open)).collect()
    }
}

/// The EU access right of a sharing mode.
fn access_right(mode: SharingMode) -> &'static str {
    match mode {
        SharingMode::Open => "PUBLIC",
        SharingMode::Default => "RESTRICTED",
        SharingMode::Specific | SharingMode::Legal => "NON_PUBLIC",
    }
}

/// The EU frequency of a cadence.
fn frequency(c: Cadence) -> &'static str {
    match c {
        Cadence::Yearly => "ANNUAL",
        Cadence::OnChange => "IRREG",
        Cadence::Continuous => "CONT",
        Cadence::Unspecified => "UNKNOWN",
    }
}

/// The EU licence of a licence chiase offers by name; `None` for others.
fn eu_licence(licence: &str) -> Option<&'static str> {
    match licence {
        "CC-BY-4.0" => Some("CC_BY_4_0"),
        "CC0-1.0" => Some("CC0"),
        "ODC-BY-1.0" => Some("ODC_BY"),
        _ => None,
    }
}

/// The English label the EU gives a concept of its authority tables
/// (DCAT-AP's shapes want a `skos:prefLabel` on every concept).
fn eu_label(table: &str, code: &str) -> Option<&'static str> {
    Some(match (table, code) {
        ("access-right", "PUBLIC") => "public",
        ("access-right", "RESTRICTED") => "restricted",
        ("access-right", "NON_PUBLIC") => "non-public",
        ("frequency", "ANNUAL") => "annual",
        ("frequency", "IRREG") => "irregular",
        ("frequency", "CONT") => "continuous",
        ("frequency", "UNKNOWN") => "unknown",
        ("file-type", "CSV") => "CSV",
        ("file-type", "JSON") => "JSON",
        ("file-type", "XLSX") => "XLSX",
        ("file-type", "GEOJSON") => "GeoJSON",
        ("file-type", "ZIP") => "ZIP",
        ("language", "VIE") => "Vietnamese",
        ("licence", "CC_BY_4_0") => "Creative Commons Attribution 4.0 International",
        ("licence", "CC0") => "Creative Commons CC0 1.0 Universal",
        ("licence", "ODC_BY") => "Open Data Commons Attribution License",
        ("data-theme", "AGRI") => "Agriculture, fisheries, forestry and food",
        ("data-theme", "ECON") => "Economy and finance",
        ("data-theme", "EDUC") => "Education, culture and sport",
        ("data-theme", "ENER") => "Energy",
        ("data-theme", "ENVI") => "Environment",
        ("data-theme", "HEAL") => "Health",
        ("data-theme", "REGI") => "Regions and cities",
        ("data-theme", "SOCI") => "Population and society",
        ("data-theme", "TECH") => "Science and technology",
        _ => return None,
    })
}

/// A download format of a hosted dataset: its label, its export's file
/// extension, its EU file type and IANA media type (`None` where neither
/// list has it: NDJSON is registered in neither).
struct Format {
    label: &'static str,
    ext: &'static str,
    file_type: Option<&'static str>,
    media: Option<&'static str>,
}

const FORMATS: [Format; 5] = [
    Format { label: "CSV", ext: "csv", file_type: Some("CSV"), media: Some("text/csv") },
    Format { label: "JSON", ext: "json", file_type: Some("JSON"), media: Some("application/json") },
    Format { label: "NDJSON", ext: "ndjson", file_type: None, media: None },
    Format {
        label: "XLSX",
        ext: "xlsx",
        file_type: Some("XLSX"),
        media: Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    },
    Format { label: "GeoJSON", ext: "geojson", file_type: Some("GEOJSON"), media: Some("application/geo+json") },
];

/// Builds the graphs.
struct Builder<'a> {
    g: Graph,
    base: &'a Base,
    src: &'a Sources,
    app: &'a AppState,
}

impl Builder<'_> {
    /// A concept of an EU authority table, typed as the DCAT-AP shapes
    /// expect (the EU publishes the typing; ckanext-dcat leaves it out).
    fn eu_concept(&mut self, table: &str, code: &str, class: Option<NamedNode>) -> NamedNode {
        let node = NamedNode::new_unchecked(format!("{EU}{table}/{code}"));
        self.g.a(&node, t(SKOS, "Concept"));
        if let Some(label) = eu_label(table, code) {
            self.g.text(&node, t(SKOS, "prefLabel"), label, "en");
        }
        if let Some(c) = class {
            self.g.a(&node, c);
        }
        self.g.add(&node, t(SKOS, "inScheme"), NamedNode::new_unchecked(format!("{EU}{table}")));
        node
    }

    /// An address (download, access, endpoint), typed `rdfs:Resource`
    /// as DCAT-AP's range shapes check it (without RDFS inference).
    fn url(&mut self, path: &str) -> NamedNode {
        let node = self.base.at(path);
        self.g.a(&node, t(RDFS, "Resource"));
        node
    }

    fn province(&mut self) -> NamedNode {
        let node = self.base.at(&format!("/spatial/{PROVINCE_SLUG}"));
        self.g.a(&node, t(DCT, "Location"));
        self.g.text(&node, t(SKOS, "prefLabel"), PROVINCE_VI, "vi");
        self.g.text(&node, t(SKOS, "prefLabel"), PROVINCE_EN, "en");
        node
    }

    fn language(&mut self) -> NamedNode {
        self.eu_concept("language", "VIE", Some(t(DCT, "LinguisticSystem")))
    }

    fn licence(&mut self, licence: &str, fallback_node: &str) -> NamedNode {
        let node = match eu_licence(licence) {
            Some(code) => self.eu_concept("licence", code, None),
            None => self.base.at(fallback_node),
        };
        self.g.a(&node, t(DCT, "LicenseDocument"));
        // As the steward wrote it: an identifier or a name, in no one language.
        self.g.plain(&node, t(RDFS, "label"), licence);
        node
    }

    /// The national theme, with its label and EU match.
    fn theme(&mut self, th: Theme) -> (NamedNode, NamedNode) {
        let node = self.base.theme(th);
        self.g.a(&node, t(SKOS, "Concept"));
        self.g.add(&node, t(SKOS, "inScheme"), self.base.theme_scheme());
        self.g.text(&node, t(SKOS, "prefLabel"), th.label_vi(), "vi");
        self.g.text(&node, t(SKOS, "prefLabel"), th.label_en(), "en");
        let (code, how) = th.eu();
        let eu = self.eu_concept("data-theme", code, None);
        let rel = match how {
            Match::Exact => "exactMatch",
            Match::Close => "closeMatch",
        };
        self.g.add(&node, t(SKOS, rel), eu.clone());
        (node, eu)
    }

    fn theme_scheme(&mut self) -> NamedNode {
        let scheme = self.base.theme_scheme();
        self.g.a(&scheme, t(SKOS, "ConceptScheme"));
        self.g.text(&scheme, t(DCT, "title"), "Nhóm chủ đề của Cổng dữ liệu quốc gia", "vi");
        self.g.text(&scheme, t(DCT, "title"), "Theme groups of the national data portal", "en");
        self.g.text(&scheme, t(SKOS, "prefLabel"), "Nhóm chủ đề của Cổng dữ liệu quốc gia", "vi");
        self.g.text(&scheme, t(SKOS, "prefLabel"), "Theme groups of the national data portal", "en");
        scheme
    }

    fn sharing_rights(&mut self, mode: SharingMode) -> NamedNode {
        let node = self.base.at(&format!("/sharing/{}", mode.code()));
        self.g.a(&node, t(DCT, "RightsStatement"));
        self.g.text(&node, t(RDFS, "label"), mode.label_vi(), "vi");
        self.g.text(&node, t(RDFS, "label"), mode.label_en(), "en");
        node
    }

    /// The owner agency (`dct:publisher`) and its focal contact (`dcat:contactPoint`).
    fn agency(&mut self, id: &str, name: &str) -> (NamedNode, NamedNode) {
        let agent = self.base.at(&format!("/agencies/{id}"));
        self.g.a(&agent, t(FOAF, "Agent"));
        self.g.a(&agent, t(FOAF, "Organization"));
        self.g.text(&agent, t(FOAF, "name"), name, "vi");
        let contact = self.base.at(&format!("/agencies/{id}#contact"));
        self.g.a(&contact, t(VCARD, "Organization"));
        self.g.a(&contact, t(VCARD, "Kind"));
        self.g.text(&contact, t(VCARD, "organization-name"), name, "vi");
        let c = self.src.contacts.get(id).cloned().unwrap_or_default();
        // The focal person when named, else the agency itself.
        self.g.text(&contact, t(VCARD, "fn"), c.name.as_deref().unwrap_or(name), "vi");
        if let Some(p) = &c.position {
            self.g.text(&contact, t(VCARD, "title"), p, "vi");
        }
        if let Some(mail) = c.email.as_deref().and_then(|e| NamedNode::new(format!("mailto:{e}")).ok()) {
            self.g.add(&contact, t(VCARD, "hasEmail"), mail);
        }
        let digits: String = c.phone.as_deref().unwrap_or("").chars().filter(|ch| ch.is_ascii_digit() || *ch == '+').collect();
        if !digits.is_empty()
            && let Ok(tel) = NamedNode::new(format!("tel:{digits}"))
        {
            self.g.add(&contact, t(VCARD, "hasTelephone"), tel);
        }
        (agent, contact)
    }

    /// One catalog database as a `dcat:Dataset`, with its distributions.
    fn database(&mut self, r: &DatabaseRecord) -> NamedNode {
        let d = self.base.database(&r.id);
        let hosted = self.src.hosted_of(&r.id);
        self.g.a(&d, t(DCAT, "Dataset"));
        self.g.text(&d, t(DCT, "title"), &r.name, "vi");
        let description = r.fields.description.plain();
        self.g.text(&d, t(DCT, "description"), if description.trim().is_empty() { &r.name } else { &description }, "vi");
        self.g.plain(&d, t(DCT, "identifier"), &r.id);
        for m in r.fields.sharing_modes() {
            self.g.text(&d, t(DCAT, "keyword"), m.label_vi(), "vi");
        }
        self.g.text(&d, t(DCAT, "keyword"), r.cadence.label("vi"), "vi");
        for ch in &r.fields.channels {
            self.g.text(&d, t(DCAT, "keyword"), ch.label("vi"), "vi");
        }
        let page = self.base.at(&format!("/databases/{}", r.id));
        self.g.a(&page, t(FOAF, "Document"));
        self.g.add(&d, t(DCAT, "landingPage"), page.clone());
        let (agent, contact) = self.agency(&r.owner.id, &r.owner.name);
        self.g.add(&d, t(DCT, "publisher"), agent);
        self.g.add(&d, t(DCAT, "contactPoint"), contact);
        for th in self.src.themes(r) {
            let (national, eu) = self.theme(th);
            self.g.add(&d, t(DCAT, "theme"), national);
            self.g.add(&d, t(DCAT, "theme"), eu);
        }
        let served: Vec<SharingMode> =
            if hosted.is_empty() { r.fields.sharing_modes().to_vec() } else { hosted.iter().map(|l| l.dataset.sharing_mode).collect() };
        if let Some(most_restrictive) = served.into_iter().max() {
            let right = self.eu_concept("access-right", access_right(most_restrictive), Some(t(DCT, "RightsStatement")));
            self.g.add(&d, t(DCT, "accessRights"), right);
        }
        let freq = self.eu_concept("frequency", frequency(r.cadence), Some(t(DCT, "Frequency")));
        self.g.add(&d, t(DCT, "accrualPeriodicity"), freq);
        if let Some(on) = r.first_listed {
            self.g.date(&d, t(DCT, "issued"), on);
        }
        self.g.date_time(&d, t(DCT, "modified"), self.src.modified(r));
        let province = self.province();
        self.g.add(&d, t(DCT, "spatial"), province);
        let vie = self.language();
        self.g.add(&d, t(DCT, "language"), vie);
        for l in hosted {
            self.distributions(&d, &r.id, l);
        }
        if !hosted.is_empty() {
            self.datapackage(&d, r, hosted);
        }
        d
    }

    /// A hosted dataset's distributions, one per export format.
    fn distributions(&mut self, d: &NamedNode, db: &str, l: &Listed) {
        let ds = &l.dataset;
        let geo = self
            .app
            .store
            .schema_of(ds)
            .map(|s| chiase_io::writers::has_geometry(&s, &(0..s.fields.len()).collect::<Vec<_>>()))
            .unwrap_or(false);
        let page = self.url(&format!("/datasets/{}", ds.id));
        let rights = self.sharing_rights(ds.sharing_mode);
        let licence = self.licence(&ds.licence, &format!("/dataset/{db}/resource/{}#licence", ds.id));
        // The data's time only where the public may read the rows;
        // `updated_at` moves with every write, so it is not used.
        let modified = l.activity.as_ref().and_then(|a| a.data_updated_at).map_or(ds.described_at, |t| t.max(ds.described_at));
        for f in FORMATS.iter().filter(|f| f.ext != "geojson" || geo) {
            let dist = self.base.at(&format!("/dataset/{db}/resource/{}/{}", ds.id, f.ext));
            self.g.add(d, t(DCAT, "distribution"), dist.clone());
            self.g.a(&dist, t(DCAT, "Distribution"));
            self.g.text(&dist, t(DCT, "title"), &format!("{} ({})", ds.title, f.label), "vi");
            if let Some(en) = &ds.title_en {
                self.g.text(&dist, t(DCT, "title"), &format!("{en} ({})", f.label), "en");
            }
            self.g.text(&dist, t(DCT, "description"), &ds.description, "vi");
            self.g.plain(&dist, t(DCT, "identifier"), &format!("{}.{}", ds.id, f.ext));
            self.g.add(&dist, t(DCAT, "accessURL"), page.clone());
            let download = self.url(&format!("/api/v1/datasets/{}/export.{}", ds.id, f.ext));
            self.g.add(&dist, t(DCAT, "downloadURL"), download);
            if let Some(ft) = f.file_type {
                let node = self.eu_concept("file-type", ft, Some(t(DCT, "MediaTypeOrExtent")));
                self.g.add(&dist, t(DCT, "format"), node);
            }
            if let Some(m) = f.media {
                let node = NamedNode::new_unchecked(format!("{IANA}{m}"));
                self.g.a(&node, t(DCT, "MediaType"));
                self.g.add(&dist, t(DCAT, "mediaType"), node);
            }
            self.g.add(&dist, t(DCT, "license"), licence.clone());
            self.g.add(&dist, t(DCT, "rights"), rights.clone());
            self.g.date_time(&dist, t(DCT, "issued"), ds.created_at);
            self.g.date_time(&dist, t(DCT, "modified"), modified);
        }
    }

    /// The database as one Frictionless Data Package (zip): the datasets
    /// the reader may read, as CSV with their Table Schemas.
    fn datapackage(&mut self, d: &NamedNode, r: &DatabaseRecord, hosted: &[Listed]) {
        let dist = self.base.at(&format!("/dataset/{}/resource/datapackage", r.id));
        self.g.add(d, t(DCAT, "distribution"), dist.clone());
        self.g.a(&dist, t(DCAT, "Distribution"));
        self.g.text(&dist, t(DCT, "title"), &format!("{} (Data Package)", r.name), "vi");
        self.g.text(
            &dist,
            t(DCT, "description"),
            "Các tập dữ liệu của CSDL mà người tải được phép đọc, dạng CSV kèm lược đồ (Frictionless Data Package).",
            "vi",
        );
        self.g.text(
            &dist,
            t(DCT, "description"),
            "The database's datasets the reader may read, as CSV with their Table Schemas (Frictionless Data Package).",
            "en",
        );
        let access = self.url(&format!("/databases/{}", r.id));
        self.g.add(&dist, t(DCAT, "accessURL"), access);
        let download = self.url(&format!("/api/v1/databases/{}/datapackage.zip", r.id));
        self.g.add(&dist, t(DCAT, "downloadURL"), download);
        let zip = self.eu_concept("file-type", "ZIP", Some(t(DCT, "MediaTypeOrExtent")));
        self.g.add(&dist, t(DCT, "format"), zip);
        let media = NamedNode::new_unchecked(format!("{IANA}application/zip"));
        self.g.a(&media, t(DCT, "MediaType"));
        self.g.add(&dist, t(DCAT, "mediaType"), media);
        let standard = NamedNode::new_unchecked("https://specs.frictionlessdata.io/data-package/");
        self.g.a(&standard, t(DCT, "Standard"));
        self.g.add(&dist, t(DCT, "conformsTo"), standard);
        if let Some(most) = hosted.iter().map(|l| l.dataset.sharing_mode).max() {
            let rights = self.sharing_rights(most);
            self.g.add(&dist, t(DCT, "rights"), rights);
        }
        let licences: BTreeSet<&str> = hosted.iter().map(|l| l.dataset.licence.as_str()).collect();
        if licences.len() == 1
            && let Some(only) = licences.first()
        {
            let node = self.licence(only, &format!("/dataset/{}/resource/datapackage#licence", r.id));
            self.g.add(&dist, t(DCT, "license"), node);
        }
        self.g.date_time(&dist, t(DCT, "modified"), self.src.modified(r));
    }

    /// The catalog node: title, publisher, services, and `datasets`.
    fn catalog(&mut self, datasets: &[NamedNode]) -> NamedNode {
        let c = self.base.catalog();
        self.g.a(&c, t(DCAT, "Catalog"));
        self.g.text(&c, t(DCT, "title"), self.app.site_name(), "vi");
        let (vi, en) = match &self.src.decision {
            Some((no, date)) => (
                format!(
                    "Danh mục cơ sở dữ liệu dùng chung của tỉnh Tuyên Quang theo Quyết định {no} ngày {}, và các tập dữ liệu được lưu trữ trên cổng.",
                    date.format("%d/%m/%Y")
                ),
                format!(
                    "The catalog of shared databases of Tuyên Quang Province under Decision {no} of {}, and the datasets the portal hosts.",
                    date.format("%Y-%m-%d")
                ),
            ),
            None => (
                "Danh mục cơ sở dữ liệu dùng chung của tỉnh Tuyên Quang.".to_string(),
                "The catalog of shared databases of Tuyên Quang Province.".to_string(),
            ),
        };
        self.g.text(&c, t(DCT, "description"), &vi, "vi");
        self.g.text(&c, t(DCT, "description"), &en, "en");
        let publisher = self.base.at("/publisher");
        self.g.a(&publisher, t(FOAF, "Agent"));
        self.g.a(&publisher, t(FOAF, "Organization"));
        self.g.text(&publisher, t(FOAF, "name"), PUBLISHER_VI, "vi");
        self.g.text(&publisher, t(FOAF, "name"), PUBLISHER_EN, "en");
        self.g.add(&c, t(DCT, "publisher"), publisher);
        let home = self.base.at("/");
        self.g.a(&home, t(FOAF, "Document"));
        self.g.add(&c, t(FOAF, "homepage"), home);
        // The catalog's own descriptions are open data (CC BY 4.0).
        let licence = self.licence("CC-BY-4.0", "/catalog#licence");
        self.g.add(&c, t(DCT, "license"), licence);
        let vie = self.language();
        self.g.add(&c, t(DCT, "language"), vie);
        let province = self.province();
        self.g.add(&c, t(DCT, "spatial"), province);
        let scheme = self.theme_scheme();
        self.g.add(&c, t(DCAT, "themeTaxonomy"), scheme);
        let eu_themes = NamedNode::new_unchecked(format!("{EU}data-theme"));
        self.g.a(&eu_themes, t(SKOS, "ConceptScheme"));
        self.g.text(&eu_themes, t(DCT, "title"), "Data theme", "en");
        self.g.add(&c, t(DCAT, "themeTaxonomy"), eu_themes);
        if let Some(first) = self.src.records.iter().filter_map(|r| r.first_listed).min() {
            self.g.date(&c, t(DCT, "issued"), first);
        }
        if let Some(last) = self.src.records.iter().map(|r| self.src.modified(r)).max() {
            self.g.date_time(&c, t(DCT, "modified"), last);
        }
        for d in datasets {
            self.g.add(&c, t(DCAT, "dataset"), d.clone());
        }
        let open: Vec<NamedNode> = self.src.open_databases().iter().map(|r| self.base.database(&r.id)).collect();
        let services = [
            (
                "/services/api",
                "Giao diện lập trình (API) của cổng",
                "The portal's API",
                "/api/v1",
                Some("/api/v1/openapi.json"),
                "https://spec.openapis.org/oas/v3.1.0",
            ),
            (
                "/services/ckan",
                "API tương thích CKAN (Action API)",
                "CKAN-compatible Action API",
                "/api/3/action/",
                None,
                "https://docs.ckan.org/en/2.11/api/",
            ),
            (
                "/services/dcat",
                "Danh mục DCAT (Turtle, JSON-LD, RDF/XML)",
                "DCAT catalog (Turtle, JSON-LD, RDF/XML)",
                "/catalog",
                None,
                "http://data.europa.eu/r5r/",
            ),
        ];
        for (path, vi, en, endpoint, description, standard) in services {
            let s = self.base.at(path);
            self.g.a(&s, t(DCAT, "DataService"));
            self.g.text(&s, t(DCT, "title"), vi, "vi");
            self.g.text(&s, t(DCT, "title"), en, "en");
            let endpoint = self.url(endpoint);
            self.g.add(&s, t(DCAT, "endpointURL"), endpoint);
            if let Some(desc) = description {
                let desc = self.url(desc);
                self.g.add(&s, t(DCAT, "endpointDescription"), desc);
            }
            let std_node = NamedNode::new_unchecked(standard);
            self.g.a(&std_node, t(DCT, "Standard"));
            self.g.add(&s, t(DCT, "conformsTo"), std_node);
            for d in &open {
                self.g.add(&s, t(DCAT, "servesDataset"), d.clone());
            }
            self.g.add(&c, t(DCAT, "service"), s);
        }
        // The services registered for the gateway: called at
        // /gateway/{id}, described by their OpenAPI document, serving the
        // database that lists them.
        for svc in &self.src.services {
            let s = self.base.at(&format!("/services/{}", svc.id));
            self.g.a(&s, t(DCAT, "DataService"));
            self.g.text(&s, t(DCT, "title"), &svc.title, "vi");
            if !svc.description.is_empty() {
                self.g.text(&s, t(DCT, "description"), &svc.description, "vi");
            }
            let endpoint = self.url(&format!("/gateway/{}", svc.id));
            self.g.add(&s, t(DCAT, "endpointURL"), endpoint);
            if svc.has_openapi {
                let desc = self.url(&format!("/api/v1/services/{}/openapi.json", svc.id));
                self.g.add(&s, t(DCAT, "endpointDescription"), desc);
            }
            let right = self.eu_concept("access-right", access_right(svc.sharing_mode), Some(t(DCT, "RightsStatement")));
            self.g.add(&s, t(DCT, "accessRights"), right);
            let (agent, contact) = self.agency(&svc.owner.id, &svc.owner.name);
            self.g.add(&s, t(DCT, "publisher"), agent);
            self.g.add(&s, t(DCAT, "contactPoint"), contact);
            self.g.add(&s, t(DCAT, "servesDataset"), self.base.database(&svc.database.id));
            self.g.add(&c, t(DCAT, "service"), s);
        }
        c
    }
}

/// A request for a page of the catalog.
#[derive(Debug, Clone, Default)]
pub struct CatalogQuery {
    /// 1-based.
    pub page: usize,
    pub modified_since: Option<DateTime<Utc>>,
}

impl CatalogQuery {
    /// Reads `page` and `modified_since` (`YYYY-MM-DD`, midnight UTC, or a
    /// full ISO 8601 time; without an offset, UTC).
    pub fn parse(page: Option<&str>, modified_since: Option<&str>) -> Result<CatalogQuery, ApiError> {
        let page = match page {
            None => 1,
            Some(p) => p.trim().parse::<usize>().ok().filter(|p| *p >= 1 && *p <= 1_000_000).ok_or_else(|| {
                let shown: String = p.chars().take(40).collect();
                ApiError::bad_request(
                    format!("page «{shown}» không hợp lệ: cần số nguyên từ 1"),
                    format!("invalid page «{shown}»: expected a whole number from 1"),
                )
            })?,
        };
        let modified_since = modified_since.map(parse_time).transpose()?;
        Ok(CatalogQuery { page, modified_since })
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, ApiError> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    let shown: String = s.chars().take(40).collect();
    Err(ApiError::bad_request(
        format!("modified_since «{shown}» không hợp lệ: cần ngày YYYY-MM-DD hoặc thời điểm ISO 8601 (2024-05-01T08:00:00+07:00)"),
        format!("invalid modified_since «{shown}»: expected a date YYYY-MM-DD or an ISO 8601 time (2024-05-01T08:00:00+07:00)"),
    ))
}

/// Where a page sits among the pages of `total` items.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Paging {
    /// The items on the page (indexes into the matching list).
    items: std::ops::Range<usize>,
    last: usize,
    next: Option<usize>,
    previous: Option<usize>,
}

impl Paging {
    /// Page `page` (from 1) of `total` items, `size` a page; `None` past
    /// the last page. No items still make one (empty) page.
    fn of(total: usize, page: usize, size: usize) -> Option<Paging> {
        let last = total.div_ceil(size).max(1);
        if page == 0 || page > last {
            return None;
        }
        let start = (page - 1) * size;
        Some(Paging {
            items: start..(start + size).min(total),
            last,
            next: (page < last).then_some(page + 1),
            previous: (page > 1).then_some(page - 1),
        })
    }
}

/// One page of the catalog: the catalog node, the page's databases (those
/// changed since `modified_since`, in the decision's order) and the Hydra
/// paging node, whose URIs name no format (`{base}/catalog?page=N`; the
/// same graph whichever serialisation is asked).
pub async fn catalog_page(app: &AppState, base: &Base, q: &CatalogQuery) -> Result<Graph, ApiError> {
    let src = sources(app).await?;
    let matching: Vec<&DatabaseRecord> =
        src.records.iter().filter(|r| q.modified_since.is_none_or(|since| src.modified(r) >= since)).collect();
    let total = matching.len();
    let paging = Paging::of(total, q.page, PAGE_SIZE).ok_or_else(|| {
        let last = total.div_ceil(PAGE_SIZE).max(1);
        ApiError::not_found(
            format!("không có trang {} (danh mục có {last} trang)", q.page),
            format!("there is no page {} (the catalog has {last})", q.page),
        )
    })?;
    let mut b = Builder { g: Graph::default(), base, src: &src, app };
    let on_page: Vec<&DatabaseRecord> = matching[paging.items.clone()].to_vec();
    let nodes: Vec<NamedNode> = on_page.iter().map(|r| base.database(&r.id)).collect();
    b.catalog(&nodes);
    for r in on_page {
        b.database(r);
    }
    let page_uri = |n: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("page", &n.to_string());
        if let Some(since) = q.modified_since {
            s.append_pair("modified_since", &since.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        base.at(&format!("/catalog?{}", s.finish()))
    };
    let this = page_uri(q.page);
    b.g.a(&this, t(HYDRA, "PagedCollection"));
    b.g.typed(&this, t(HYDRA, "totalItems"), total.to_string(), xsd::INTEGER);
    b.g.typed(&this, t(HYDRA, "itemsPerPage"), PAGE_SIZE.to_string(), xsd::INTEGER);
    b.g.add(&this, t(HYDRA, "firstPage"), page_uri(1));
    b.g.add(&this, t(HYDRA, "lastPage"), page_uri(paging.last));
    if let Some(next) = paging.next {
        b.g.add(&this, t(HYDRA, "nextPage"), page_uri(next));
    }
    if let Some(previous) = paging.previous {
        b.g.add(&this, t(HYDRA, "previousPage"), page_uri(previous));
    }
    Ok(b.g)
}

/// One catalog database (by number or id) as a `dcat:Dataset`, with the
/// catalog node that lists it; 404 when the current catalog has none.
pub async fn database(app: &AppState, base: &Base, key: &str) -> Result<Graph, ApiError> {
    let detail = crate::usecase::catalog::find_database(app, key).await?;
    let src = sources(app).await?;
    let Some(r) = src.records.iter().find(|r| r.id == detail.id) else {
        return Err(ApiError::not_found(
            format!("cơ sở dữ liệu «{}» không còn trong danh mục hiện hành", detail.id),
            format!("database «{}» is not in the current catalog", detail.id),
        ));
    };
    let mut b = Builder { g: Graph::default(), base, src: &src, app };
    b.database(r);
    Ok(b.g)
}

/// The theme vocabulary as a SKOS concept scheme, with the EU matches.
pub fn themes(app: &AppState, base: &Base) -> Graph {
    let src = Sources { records: vec![], hosted: HashMap::new(), contacts: HashMap::new(), decision: None, services: vec![] };
    let mut b = Builder { g: Graph::default(), base, src: &src, app };
    let scheme = b.theme_scheme();
    for th in Theme::ALL {
        let (node, _) = b.theme(th);
        b.g.add(&scheme, t(SKOS, "hasTopConcept"), node.clone());
        b.g.add(&node, t(SKOS, "topConceptOf"), scheme.clone());
        b.g.plain(&node, t(SKOS, "notation"), th.code());
    }
    b.g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_a_format_only_over_html() {
        assert_eq!(RdfFormat::negotiate("text/turtle"), Some(RdfFormat::Turtle));
        assert_eq!(RdfFormat::negotiate("application/ld+json, text/html;q=0.5"), Some(RdfFormat::JsonLd));
        assert_eq!(RdfFormat::negotiate("application/rdf+xml;q=0.9, text/turtle;q=0.8"), Some(RdfFormat::RdfXml));
        assert_eq!(RdfFormat::negotiate("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), None);
        assert_eq!(RdfFormat::negotiate("*/*"), None);
        assert_eq!(RdfFormat::negotiate("text/turtle;q=0, text/html"), None);
        assert_eq!(RdfFormat::negotiate(""), None);
    }

    #[test]
    fn pages_link_their_neighbours() {
        let p = Paging::of(250, 1, 100).unwrap();
        assert_eq!((p.items, p.last, p.next, p.previous), (0..100, 3, Some(2), None));
        let p = Paging::of(250, 2, 100).unwrap();
        assert_eq!((p.items, p.next, p.previous), (100..200, Some(3), Some(1)));
        let p = Paging::of(250, 3, 100).unwrap();
        assert_eq!((p.items, p.next, p.previous), (200..250, None, Some(2)));
        assert_eq!(Paging::of(250, 4, 100), None);
        assert_eq!(Paging::of(200, 2, 100).unwrap().items, 100..200);
        assert_eq!(Paging::of(200, 3, 100), None);
        let empty = Paging::of(0, 1, 100).unwrap();
        assert_eq!((empty.items, empty.last, empty.next), (0..0, 1, None));
        assert_eq!(Paging::of(31, 0, 100), None);
    }

    #[test]
    fn modified_since_reads_dates_and_times() {
        let q = CatalogQuery::parse(Some("2"), Some("2024-05-01")).unwrap();
        assert_eq!(q.page, 2);
        assert_eq!(q.modified_since.unwrap().to_rfc3339(), "2024-05-01T00:00:00+00:00");
        let q = CatalogQuery::parse(None, Some("2024-05-01T08:00:00+07:00")).unwrap();
        assert_eq!(q.modified_since.unwrap().to_rfc3339(), "2024-05-01T01:00:00+00:00");
        assert!(CatalogQuery::parse(None, Some("01/05/2024")).is_err());
        assert!(CatalogQuery::parse(Some("0"), None).is_err());
        assert!(CatalogQuery::parse(Some("abc"), None).is_err());
    }
}

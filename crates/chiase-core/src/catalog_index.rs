//! An in-memory search index of the catalog: ranked, diacritic-folded full
//! text with facet counts, in well under a millisecond for ten thousand
//! entries.
//!
//! Why in memory: a catalog is small (a province has tens to a few thousand
//! entries) and changes only by decision, while every page view searches it
//! and counts three facets over every match. SQL full-text plus GROUP BY
//! costs milliseconds per search at 10,000 entries; this index costs
//! microseconds. The store rebuilds it from the database whenever a
//! generation counter, bumped in the same transaction as any catalog
//! change, moves: it is a cache of the database, never a second truth.
//!
//! Ranking: entries where the query's words stand side by side (the
//! phrase) first, then BM25 summed over fields weighted name 10, owner 4,
//! description 2, mechanism 1, then the number in the decision.

use std::collections::HashMap;

use crate::catalog::Cadence;
use crate::fold::{index_text, query_terms, words};
use crate::sharing::SharingMode;

/// The fields of an entry, in index order.
pub const FIELDS: usize = 4;
const FIELD_WEIGHTS: [f32; FIELDS] = [10.0, 4.0, 2.0, 1.0];
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// One catalog entry to index, with a payload returned by searches.
#[derive(Debug, Clone)]
pub struct IndexDoc<T> {
    /// The number in the decision (results without a query sort by it).
    pub no: Option<i64>,
    /// The owner's identifier (for the agency filter and facet).
    pub owner: String,
    pub owner_label: String,
    pub modes: Vec<SharingMode>,
    pub cadence: Cadence,
    /// Name, owner name, description, mechanism: plain text, not folded.
    pub texts: [String; FIELDS],
    pub payload: T,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct IndexQuery {
    pub q: Option<String>,
    pub owners: Vec<String>,
    pub modes: Vec<SharingMode>,
    pub cadences: Vec<Cadence>,
    pub offset: usize,
    pub limit: usize,
}

/// How the words were matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    All,
    Any,
}

/// A facet value and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    pub value: String,
    pub label: String,
    pub count: usize,
}

/// What a search found.
#[derive(Debug)]
pub struct IndexHits<'a, T> {
    pub count: usize,
    pub page: Vec<&'a T>,
    /// By count, then label.
    pub owners: Vec<FacetCount>,
    /// In the order of [`SharingMode::ALL`], zero counts left out.
    pub modes: Vec<(SharingMode, usize)>,
    /// In the order of [`Cadence::ALL`], zero counts left out.
    pub cadences: Vec<(Cadence, usize)>,
    /// `None` when there was no query text.
    pub matched: Option<Matched>,
}

#[derive(Debug, Clone, Copy)]
struct Occurrence {
    doc: u32,
    field: u8,
    pos: u32,
}

struct Doc<T> {
    no: Option<i64>,
    owner: u32,
    modes: u8,
    cadence: u8,
    lengths: [u32; FIELDS],
    payload: T,
}

/// The index. Build it once, search it from many threads.
pub struct CatalogIndex<T> {
    docs: Vec<Doc<T>>,
    owners: Vec<(String, String)>,
    /// Folded token → token id.
    vocab: HashMap<String, u32>,
    /// Tokens sorted, for prefix expansion of the last query word.
    sorted_vocab: Vec<(String, u32)>,
    /// Token id → occurrences sorted by (doc, field, pos).
    postings: Vec<Vec<Occurrence>>,
    /// Token id → number of documents containing it.
    doc_freq: Vec<u32>,
    avg_len: [f32; FIELDS],
}

fn mode_bit(m: SharingMode) -> u8 {
    1 << SharingMode::ALL.iter().position(|x| *x == m).expect("BUG: mode in ALL")
}

fn cadence_index(c: Cadence) -> u8 {
    Cadence::ALL.iter().position(|x| *x == c).expect("BUG: cadence in ALL") as u8
}

impl<T> CatalogIndex<T> {
    /// Indexes `docs`. Text is folded with [`index_text`], so abbreviations
    /// match their long forms too.
    pub fn build(docs: Vec<IndexDoc<T>>) -> CatalogIndex<T> {
        let mut index = CatalogIndex {
            docs: Vec::with_capacity(docs.len()),
            owners: Vec::new(),
            vocab: HashMap::new(),
            sorted_vocab: Vec::new(),
            postings: Vec::new(),
            doc_freq: Vec::new(),
            avg_len: [0.0; FIELDS],
        };
        let mut owner_ids: HashMap<String, u32> = HashMap::new();
        let mut total_len = [0u64; FIELDS];
        for (d, doc) in docs.into_iter().enumerate() {
            let owner = *owner_ids.entry(doc.owner.clone()).or_insert_with(|| {
                index.owners.push((doc.owner.clone(), doc.owner_label.clone()));
                (index.owners.len() - 1) as u32
            });
            let mut lengths = [0u32; FIELDS];
            for (f, text) in doc.texts.iter().enumerate() {
                let folded = index_text(text);
                for (pos, w) in words(&folded).enumerate() {
                    let next_id = index.vocab.len() as u32;
                    let id = *index.vocab.entry(w.to_string()).or_insert(next_id);
                    if id == next_id {
                        index.postings.push(Vec::new());
                        index.doc_freq.push(0);
                    }
                    let list = &mut index.postings[id as usize];
                    if list.last().is_none_or(|o| o.doc != d as u32) {
                        index.doc_freq[id as usize] += 1;
                    }
                    list.push(Occurrence { doc: d as u32, field: f as u8, pos: pos as u32 });
                    lengths[f] += 1;
                }
                total_len[f] += lengths[f] as u64;
            }
            index.docs.push(Doc {
                no: doc.no,
                owner,
                modes: doc.modes.iter().fold(0, |acc, m| acc | mode_bit(*m)),
                cadence: cadence_index(doc.cadence),
                lengths,
                payload: doc.payload,
            });
        }
        // Occurrences arrive by doc, then field, then position: sorted already.
        let n = index.docs.len().max(1) as f32;
        for (avg, total) in index.avg_len.iter_mut().zip(total_len) {
            *avg = (total as f32 / n).max(1.0);
        }
        index.sorted_vocab = index.vocab.iter().map(|(w, id)| (w.clone(), *id)).collect();
        index.sorted_vocab.sort();
        index
    }

    /// The number of entries indexed.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Token ids a query word stands for: itself, or (for the last word,
    /// searched as you type) every token it begins.
    fn expand(&self, term: &str, prefix: bool) -> Vec<u32> {
        if !prefix {
            return self.vocab.get(term).copied().into_iter().collect();
        }
        let start = self.sorted_vocab.partition_point(|(w, _)| w.as_str() < term);
        self.sorted_vocab[start..].iter().take_while(|(w, _)| w.starts_with(term)).map(|(_, id)| *id).collect()
    }

    fn docs_of(&self, tokens: &[u32]) -> Vec<u64> {
        let mut bits = vec![0u64; self.docs.len().div_ceil(64)];
        for t in tokens {
            for o in &self.postings[*t as usize] {
                bits[o.doc as usize / 64] |= 1 << (o.doc % 64);
            }
        }
        bits
    }

    /// Runs a search.
    pub fn search(&self, query: &IndexQuery) -> IndexHits<'_, T> {
        let terms = query.q.as_deref().map(query_terms).unwrap_or_default();
        let words_len = self.docs.len().div_ceil(64);
        let last = terms.len().saturating_sub(1);
        let expanded: Vec<Vec<u32>> = terms.iter().enumerate().map(|(i, t)| self.expand(t, i == last)).collect();

        let owner_filter: Vec<u32> =
            query.owners.iter().filter_map(|o| self.owners.iter().position(|(id, _)| id == o).map(|p| p as u32)).collect();
        let owners_asked = !query.owners.is_empty();
        let mode_mask = query.modes.iter().fold(0u8, |acc, m| acc | mode_bit(*m));
        let cadence_set: Vec<u8> = query.cadences.iter().map(|c| cadence_index(*c)).collect();
        let passes = |d: &Doc<T>| {
            (!owners_asked || owner_filter.contains(&d.owner))
                && (mode_mask == 0 || d.modes & mode_mask != 0)
                && (cadence_set.is_empty() || cadence_set.contains(&d.cadence))
        };

        let mut matched = None;
        let mut candidates: Vec<u32>;
        if terms.is_empty() {
            candidates = (0..self.docs.len() as u32).filter(|d| passes(&self.docs[*d as usize])).collect();
        } else {
            let sets: Vec<Vec<u64>> = expanded.iter().map(|tokens| self.docs_of(tokens)).collect();
            let mut all = vec![u64::MAX; words_len];
            for s in &sets {
                for (a, b) in all.iter_mut().zip(s) {
                    *a &= b;
                }
            }
            candidates = bit_docs(&all, self.docs.len()).filter(|d| passes(&self.docs[*d as usize])).collect();
            matched = Some(Matched::All);
            if candidates.is_empty() && terms.len() > 1 {
                let mut any = vec![0u64; words_len];
                for s in &sets {
                    for (a, b) in any.iter_mut().zip(s) {
                        *a |= b;
                    }
                }
                candidates = bit_docs(&any, self.docs.len()).filter(|d| passes(&self.docs[*d as usize])).collect();
                matched = Some(Matched::Any);
            }
        }

        // Facets over every match.
        let mut owner_counts = vec![0usize; self.owners.len()];
        let mut mode_counts = [0usize; 4];
        let mut cadence_counts = [0usize; 4];
        for d in &candidates {
            let doc = &self.docs[*d as usize];
            owner_counts[doc.owner as usize] += 1;
            for (i, count) in mode_counts.iter_mut().enumerate() {
                if doc.modes & (1 << i) != 0 {
                    *count += 1;
                }
            }
            cadence_counts[doc.cadence as usize] += 1;
        }
        let mut owners: Vec<FacetCount> = owner_counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| FacetCount { value: self.owners[i].0.clone(), label: self.owners[i].1.clone(), count: *c })
            .collect();
        owners.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));

        // Order: without words by number; with words by phrase, score, number.
        let count = candidates.len();
        let end = (query.offset + query.limit).min(count);
        let by_no = |a: &u32, b: &u32| {
            let (da, db) = (&self.docs[*a as usize], &self.docs[*b as usize]);
            da.no.unwrap_or(i64::MAX).cmp(&db.no.unwrap_or(i64::MAX)).then(a.cmp(b))
        };
        if query.offset < end {
            if terms.is_empty() {
                sort_head(&mut candidates, end, by_no);
            } else {
                let keys = self.rank_keys(&candidates, &expanded);
                let mut ranked: Vec<(u32, bool, f32)> = candidates.iter().zip(keys).map(|(d, (p, s))| (*d, p, s)).collect();
                sort_head(&mut ranked, end, |a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)).then_with(|| by_no(&a.0, &b.0)));
                candidates = ranked.into_iter().map(|(d, _, _)| d).collect();
            }
        }
        let page = if query.offset < end {
            candidates[query.offset..end].iter().map(|d| &self.docs[*d as usize].payload).collect()
        } else {
            Vec::new()
        };
        IndexHits {
            count,
            page,
            owners,
            modes: SharingMode::ALL.iter().zip(mode_counts).filter(|(_, c)| *c > 0).map(|(m, c)| (*m, c)).collect(),
            cadences: Cadence::ALL.iter().zip(cadence_counts).filter(|(_, c)| *c > 0).map(|(k, c)| (*k, c)).collect(),
            matched,
        }
    }

    /// (phrase found, BM25 score) for each candidate, in candidate order.
    fn rank_keys(&self, candidates: &[u32], expanded: &[Vec<u32>]) -> Vec<(bool, f32)> {
        // Document → its place among the candidates (u32::MAX: not one).
        let mut slots = vec![u32::MAX; self.docs.len()];
        for (i, d) in candidates.iter().enumerate() {
            slots[*d as usize] = i as u32;
        }
        let slot = |doc: &u32| Some(slots[*doc as usize] as usize).filter(|s| *s != u32::MAX as usize);
        let n = self.docs.len() as f32;
        let mut scores = vec![0f32; candidates.len()];
        for tokens in expanded {
            for t in tokens {
                let df = self.doc_freq[*t as usize] as f32;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                let list = &self.postings[*t as usize];
                let mut i = 0;
                while i < list.len() {
                    let (doc, field) = (list[i].doc, list[i].field);
                    let mut tf = 0f32;
                    while i < list.len() && list[i].doc == doc && list[i].field == field {
                        tf += 1.0;
                        i += 1;
                    }
                    if let Some(s) = slot(&doc) {
                        let f = field as usize;
                        let len = self.docs[doc as usize].lengths[f] as f32;
                        let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.avg_len[f]));
                        scores[s] += FIELD_WEIGHTS[f] * idf * norm;
                    }
                }
            }
        }
        let mut phrase = vec![false; candidates.len()];
        if expanded.len() > 1 {
            // Occurrences of the first word whose followers continue the phrase.
            for first in &expanded[0] {
                for o in &self.postings[*first as usize] {
                    let Some(s) = slot(&o.doc) else { continue };
                    if phrase[s] {
                        continue;
                    }
                    let continues = expanded[1..].iter().enumerate().all(|(k, tokens)| {
                        let want = Occurrence { doc: o.doc, field: o.field, pos: o.pos + 1 + k as u32 };
                        tokens.iter().any(|t| {
                            self.postings[*t as usize]
                                .binary_search_by(|x| (x.doc, x.field, x.pos).cmp(&(want.doc, want.field, want.pos)))
                                .is_ok()
                        })
                    });
                    if continues {
                        phrase[s] = true;
                    }
                }
            }
        }
        phrase.into_iter().zip(scores).collect()
    }
}

fn bit_docs(bits: &[u64], n: usize) -> impl Iterator<Item = u32> + '_ {
    bits.iter()
        .enumerate()
        .flat_map(move |(w, word)| {
            let mut word = *word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let b = word.trailing_zeros();
                word &= word - 1;
                Some((w * 64 + b as usize) as u32)
            })
        })
        .filter(move |d| (*d as usize) < n)
}

/// Sorts so that the first `head` elements are the smallest, in order.
fn sort_head<E>(v: &mut [E], head: usize, cmp: impl Fn(&E, &E) -> std::cmp::Ordering) {
    if head < v.len() && head > 0 {
        v.select_nth_unstable_by(head - 1, &cmp);
        v[..head].sort_by(&cmp);
    } else {
        v.sort_by(&cmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(no: i64, name: &str, owner: &str, desc: &str, modes: &[SharingMode], cadence: Cadence) -> IndexDoc<i64> {
        IndexDoc {
            no: Some(no),
            owner: owner.to_lowercase().replace(' ', "-"),
            owner_label: owner.to_string(),
            modes: modes.to_vec(),
            cadence,
            texts: [name.into(), owner.into(), desc.into(), String::new()],
            payload: no,
        }
    }

    fn index() -> CatalogIndex<i64> {
        use Cadence::*;
        use SharingMode::*;
        CatalogIndex::build(vec![
            doc(8, "CSDL Địa chính", "Sở TNMT", "Quản lý hồ sơ địa chính; hỗ trợ quản lý đất đai", &[Legal], OnChange),
            doc(12, "CSDL đất đai", "Sở TNMT", "Quy hoạch sử dụng đất", &[Legal], Yearly),
            doc(14, "CSDL Thư viện tỉnh", "Sở VHTTDL", "Thư viện số dùng chung", &[Open, Default, Specific], Continuous),
            doc(26, "Hệ thống Quản lý quy hoạch viễn thông thụ động", "Sở TTTT", "Viễn thông", &[Open], OnChange),
        ])
    }

    fn q(text: &str) -> IndexQuery {
        IndexQuery { q: Some(text.into()), limit: 10, ..Default::default() }
    }

    #[test]
    fn names_outrank_descriptions_and_folding_applies() {
        let i = index();
        let hits = i.search(&q("ĐẤT ĐAI"));
        assert_eq!(hits.page, vec![&12, &8]);
        assert_eq!(hits.matched, Some(Matched::All));
    }

    #[test]
    fn adjacent_words_rank_first() {
        // "thu vien" is in 14 as a phrase; 26 has "vien thong thu dong".
        let i = index();
        let hits = i.search(&q("thu vien"));
        assert_eq!(hits.page.first(), Some(&&14));
        assert_eq!(hits.count, 2);
    }

    #[test]
    fn the_last_word_matches_as_a_prefix() {
        assert_eq!(index().search(&q("thu vi")).page.first(), Some(&&14));
        assert_eq!(index().search(&q("vien thon")).page, vec![&26]);
    }

    #[test]
    fn no_document_with_all_words_falls_back_to_any() {
        let i = index();
        let hits = i.search(&q("dia chinh xyzzy"));
        assert_eq!(hits.matched, Some(Matched::Any));
        assert_eq!(hits.page, vec![&8]);
        assert_eq!(index().search(&q("xyzzy")).count, 0);
    }

    #[test]
    fn filters_and_facets_count_every_match_not_just_the_page() {
        let i = index();
        let hits = i.search(&IndexQuery { limit: 1, ..Default::default() });
        assert_eq!(hits.count, 4);
        assert_eq!(hits.page, vec![&8], "no query: decision order");
        assert_eq!(hits.owners[0], FacetCount { value: "sở-tnmt".into(), label: "Sở TNMT".into(), count: 2 });
        assert_eq!(
            hits.modes,
            vec![(SharingMode::Open, 2), (SharingMode::Default, 1), (SharingMode::Specific, 1), (SharingMode::Legal, 2)]
        );
        let open = i.search(&IndexQuery { modes: vec![SharingMode::Open], limit: 10, ..Default::default() });
        assert_eq!(open.page, vec![&14, &26]);
        let owner =
            i.search(&IndexQuery { owners: vec!["sở-tnmt".into()], cadences: vec![Cadence::Yearly], limit: 10, ..Default::default() });
        assert_eq!(owner.page, vec![&12]);
        let unknown_owner = i.search(&IndexQuery { owners: vec!["khong-co".into()], limit: 10, ..Default::default() });
        assert_eq!(unknown_owner.count, 0);
    }

    #[test]
    fn paging_past_the_end_is_empty() {
        let i = index();
        let hits = i.search(&IndexQuery { offset: 10, limit: 5, ..Default::default() });
        assert_eq!(hits.count, 4);
        assert!(hits.page.is_empty());
        let page2 = i.search(&IndexQuery { offset: 2, limit: 5, ..Default::default() });
        assert_eq!(page2.page, vec![&14, &26]);
    }
}

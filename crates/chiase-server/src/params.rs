//! Query-string parsing for the API: every parameter is known, typed and
//! checked, and a mistake is a 400 naming the parameter, never a silent
//! default. Repeated keys and comma lists both give several values
//! (`sharing=open&sharing=default` or `sharing=open,default`).

use std::str::FromStr;

use chrono::NaiveDate;

use crate::error::ApiError;

/// The parsed query string of one request.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `query`, refusing keys outside `allowed`.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                format!("tham số không được hỗ trợ: «{k}» (hỗ trợ: {})", allowed.join(", ")),
                format!("unsupported parameter «{k}» (supported: {})", allowed.join(", ")),
            )
            .with_fields(serde_json::json!({ k: ["unsupported parameter"] })));
        }
        Ok(Params { pairs })
    }

    /// Parses `query` against the parameters `T` documents (the same
    /// struct is named in the handler's `#[utoipa::path(params(…))]`), so
    /// what the OpenAPI document lists and what is accepted are one list.
    pub fn parse_as<T: utoipa::IntoParams>(query: Option<&str>) -> Result<Params, ApiError> {
        Params::parse_documented(query, T::into_params(|| None))
    }

    /// [`Params::parse_as`] for an endpoint documented by two structs.
    pub fn parse_as2<A: utoipa::IntoParams, B: utoipa::IntoParams>(query: Option<&str>) -> Result<Params, ApiError> {
        let mut params = A::into_params(|| None);
        params.extend(B::into_params(|| None));
        Params::parse_documented(query, params)
    }

    fn parse_documented(query: Option<&str>, params: Vec<utoipa::openapi::path::Parameter>) -> Result<Params, ApiError> {
        let names: Vec<String> = params.into_iter().map(|p| p.name).collect();
        let allowed: Vec<&str> = names.iter().map(String::as_str).collect();
        Params::parse(query, &allowed)
    }

    /// Pairs already read from a query string, every key allowed (for a use
    /// case that reads a few options out of parameters it passes on).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// The single value of `key`, if given (an empty value counts as absent).
    pub fn one(&self, key: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                format!("tham số «{key}» chỉ được có một giá trị"),
                format!("parameter «{key}» takes one value"),
            ));
        }
        Ok(first.map(str::trim).filter(|v| !v.is_empty()))
    }

    /// Every value of `key`, from repeats and comma lists.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).flat_map(|(_, v)| v.split(',')).map(str::trim).filter(|v| !v.is_empty()).collect()
    }

    /// Every value of `key`, each parsed; a bad one is named.
    pub fn all_parsed<T: FromStr>(&self, key: &str, accepted: &[&str]) -> Result<Vec<T>, ApiError> {
        self.all(key)
            .into_iter()
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    ApiError::bad_request(
                        format!("giá trị «{v}» không hợp lệ cho «{key}» (chấp nhận: {})", accepted.join(", ")),
                        format!("invalid value «{v}» for «{key}» (accepted: {})", accepted.join(", ")),
                    )
                })
            })
            .collect()
    }

    /// An integer within `[min, max]`, or `default` when absent.
    pub fn int(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        let Some(v) = self.one(key)? else { return Ok(default) };
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                format!("«{key}» phải là số nguyên từ {min} đến {max}, gặp «{v}»"),
                format!("«{key}» must be an integer from {min} to {max}, got «{v}»"),
            )),
        }
    }

    /// A date, as `YYYY-MM-DD` or `dd/mm/yyyy`.
    pub fn date(&self, key: &str) -> Result<Option<NaiveDate>, ApiError> {
        let Some(v) = self.one(key)? else { return Ok(None) };
        parse_date(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                format!("«{key}» phải là ngày dạng YYYY-MM-DD hoặc dd/mm/yyyy, gặp «{v}»"),
                format!("«{key}» must be a date as YYYY-MM-DD or dd/mm/yyyy, got «{v}»"),
            )
        })
    }

    /// A yes/no parameter (`true`/`false`, `1`/`0`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.one(key)? {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(v) => {
                Err(ApiError::bad_request(format!("«{key}» là true hoặc false, gặp «{v}»"), format!("«{key}» is true or false, got «{v}»")))
            }
        }
    }

    /// `vi` or `en` from `lang`, defaulting to Vietnamese.
    pub fn lang(&self) -> Result<&'static str, ApiError> {
        match self.one("lang")? {
            None | Some("vi") => Ok("vi"),
            Some("en") => Ok("en"),
            Some(other) => Err(ApiError::bad_request(
                format!("ngôn ngữ «{other}» không được hỗ trợ (vi, en)"),
                format!("language «{other}» is not supported (vi, en)"),
            )),
        }
    }
}

/// The language of labels and messages: Vietnamese (the default) or
/// English. ([`Params::lang`] reads it; this type documents it.)
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum Lang {
    Vi,
    En,
}

/// The parameters of an endpoint that takes only `lang`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LangQuery {
    /// The language of labels and messages.
    #[param(inline)]
    lang: Option<Lang>,
}

/// Reads `YYYY-MM-DD` or `dd/mm/yyyy`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y")).ok()
}

/// All query pairs of a request, in order.
pub fn pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `encoding`, `delimiter` and `format` parameters of imports and inference.
pub fn read_options(p: &Params) -> Result<chiase_io::tabular::ReadOptions, ApiError> {
    use chiase_io::tabular::Format;
    let encoding = match p.one("encoding")? {
        None => None,
        Some(label) => Some(chiase_io::encoding::by_label(label).ok_or_else(|| {
            ApiError::bad_request(format!("bảng mã «{label}» không được hỗ trợ"), format!("unsupported encoding «{label}»"))
        })?),
    };
    let delimiter = match p.one("delimiter")? {
        None => None,
        Some("tab") | Some("\t") => Some(b'\t'),
        Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
        Some(d) => return Err(ApiError::bad_request(format!("dấu phân cách «{d}» không hợp lệ"), format!("invalid delimiter «{d}»"))),
    };
    let format = match p.one("format")? {
        None => None,
        Some("csv") => Some(Format::Csv),
        Some("tsv") => Some(Format::Tsv),
        Some("xlsx" | "xls" | "ods") => Some(Format::Xlsx),
        Some("json") => Some(Format::Json),
        Some("ndjson") => Some(Format::Ndjson),
        Some(f) => return Err(ApiError::bad_request(format!("định dạng «{f}» không được hỗ trợ"), format!("unsupported format «{f}»"))),
    };
    let locale = match p.one("locale")? {
        None => None,
        Some(l) => Some(chiase_core::human::InputLocale::parse(l).ok_or_else(|| {
            ApiError::bad_request(format!("locale «{l}» không hợp lệ (vi, en)"), format!("invalid locale «{l}» (vi, en)"))
        })?),
    };
    let sheet = p.one("sheet")?.map(str::to_string);
    Ok(chiase_io::tabular::ReadOptions { format, encoding, delimiter, sheet, locale, ..Default::default() })
}

/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 500;

/// Reads the search parameters shared by the API and the web page.
pub fn catalog_query(p: &Params, default_limit: i64) -> Result<chiase_store::databases::DatabaseQuery, ApiError> {
    use chiase_core::catalog::Cadence;
    use chiase_core::sharing::SharingMode;
    let sharing_codes: Vec<&str> = SharingMode::ALL.iter().map(|m| m.code()).collect();
    let cadence_codes: Vec<&str> = Cadence::ALL.iter().map(|c| c.code()).collect();
    Ok(chiase_store::databases::DatabaseQuery {
        q: p.one("q")?.map(str::to_string),
        agencies: p.all("agency").into_iter().map(str::to_string).collect(),
        sharing: p.all_parsed("sharing", &sharing_codes)?,
        cadences: p.all_parsed("cadence", &cadence_codes)?,
        limit: p.int("limit", default_limit, 1, MAX_LIMIT)?,
        offset: p.int("offset", 0, 0, 1_000_000)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameters_are_named() {
        let e = Params::parse(Some("q=a&shraing=open"), &["q", "sharing"]).unwrap_err();
        assert!(e.msg.en.contains("shraing"));
    }

    #[test]
    fn repeated_and_comma_values_are_collected() {
        let p = Params::parse(Some("sharing=open,default&sharing=legal&sharing="), &["sharing"]).unwrap();
        assert_eq!(p.all("sharing"), vec!["open", "default", "legal"]);
    }

    #[test]
    fn integers_are_range_checked() {
        let p = Params::parse(Some("limit=5000&offset=-1&x=abc"), &["limit", "offset", "x"]).unwrap();
        assert!(p.int("limit", 20, 1, 500).is_err());
        assert!(p.int("offset", 0, 0, 1000).is_err());
        assert!(p.int("x", 0, 0, 10).is_err());
        assert_eq!(p.int("absent", 7, 0, 10).unwrap(), 7);
    }

    #[test]
    fn dates_accept_both_forms() {
        assert_eq!(parse_date("01/01/2024"), parse_date("2024-01-01"));
        assert!(parse_date("2024-13-01").is_none());
    }
}

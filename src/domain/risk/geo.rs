//! Optional geolocation from MaxMind DB files: country, ASN (and its organisation) and location
//! of an address from `AUTHD_GEOIP_DB`, and from `AUTHD_GEOIP_ASN_DB` the ASN where the first
//! gives none. Reads both record shapes in use: MaxMind's GeoLite2/GeoIP2 (`country.iso_code`,
//! `location.latitude`, `autonomous_system_number`/`_organization`) and the flat one of the
//! ip-location-db files (`country_code`, `latitude`, `as_number`/`as_organisation`). Without a
//! file every field is absent and the features that need it drop out.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// What the database says about an address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The autonomous system's organisation, where the database names it.
    pub as_org: Option<String>,
    /// (latitude, longitude) in degrees.
    pub location: Option<(f64, f64)>,
}

#[derive(Deserialize)]
struct Country {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct Record {
    // MaxMind shape.
    country: Option<Country>,
    location: Option<Location>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
    // Flat shape.
    country_code: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    #[serde(alias = "asn")]
    as_number: Option<AsNumber>,
    #[serde(alias = "as_organization", alias = "as_name")]
    as_organisation: Option<String>,
}

/// ip-location-db writes the AS number as a number or as "AS123"/"123" text.
#[derive(Deserialize)]
#[serde(untagged)]
enum AsNumber {
    Num(u32),
    Text(String),
}

/// A loaded database.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeoDb")
    }
}

impl GeoDb {
    /// Opens a `.mmdb` file.
    pub fn open(path: &Path) -> Result<Self, String> {
        maxminddb::Reader::open_readfile(path)
            .map(|reader| Self { reader })
            .map_err(|e| format!("cannot read GeoIP database {}: {e}", path.display()))
    }

    /// Looks up an address; unknown addresses (and lookup errors) give an empty place.
    pub fn place(&self, ip: IpAddr) -> Place {
        self.reader
            .lookup(ip)
            .ok()
            .and_then(|r| r.decode::<Record>().ok().flatten())
            .map(Place::from)
            .unwrap_or_default()
    }
}

impl Place {
    /// This place with `other`'s ASN (and organisation) where it has none, or `other`'s
    /// organisation where both name the same ASN and this one names no organisation.
    #[must_use]
    pub fn or_asn_of(mut self, other: Place) -> Self {
        match self.asn {
            None => {
                self.asn = other.asn;
                self.as_org = other.asn.and(other.as_org);
            }
            Some(a) if self.as_org.is_none() && other.asn == Some(a) => {
                self.as_org = other.as_org;
            }
            Some(_) => {}
        }
        self
    }
}

/// The configured databases: the main one (`AUTHD_GEOIP_DB`) and an ASN one
/// (`AUTHD_GEOIP_ASN_DB`) that fills the ASN where the main one gives none; at least one.
#[derive(Debug)]
pub struct Geo {
    main: Option<GeoDb>,
    asn: Option<GeoDb>,
}

impl Geo {
    /// Opens the files given; `None` when neither is.
    pub fn open(main: Option<&Path>, asn: Option<&Path>) -> Result<Option<Self>, String> {
        let main = main.map(GeoDb::open).transpose()?;
        let asn = asn.map(GeoDb::open).transpose()?;
        Ok((main.is_some() || asn.is_some()).then_some(Self { main, asn }))
    }

    /// Whether the main database (countries, locations) is configured.
    pub fn has_main(&self) -> bool {
        self.main.is_some()
    }

    /// Whether the ASN database is configured.
    pub fn has_asn_db(&self) -> bool {
        self.asn.is_some()
    }

    /// Looks up an address in both: the main database's place, its ASN filled from the ASN
    /// database where it has none.
    pub fn place(&self, ip: IpAddr) -> Place {
        let place = self.main.as_ref().map(|m| m.place(ip)).unwrap_or_default();
        match &self.asn {
            Some(a) if place.asn.is_none() || place.as_org.is_none() => {
                place.or_asn_of(a.place(ip))
            }
            _ => place,
        }
    }
}

impl From<Record> for Place {
    fn from(r: Record) -> Self {
        let country = r
            .country
            .and_then(|c| c.iso_code)
            .or(r.country_code)
            .map(|c| c.to_ascii_uppercase());
        let asn = r.autonomous_system_number.or(match r.as_number {
            Some(AsNumber::Num(n)) => Some(n),
            Some(AsNumber::Text(t)) => t.trim_start_matches("AS").parse().ok(),
            None => None,
        });
        let as_org = asn.and(
            r.autonomous_system_organization
                .or(r.as_organisation)
                .filter(|o| !o.trim().is_empty()),
        );
        let location = match (r.location, r.latitude, r.longitude) {
            (
                Some(Location {
                    latitude: Some(a),
                    longitude: Some(b),
                }),
                _,
                _,
            )
            | (_, Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        Self {
            country,
            asn,
            as_org,
            location,
        }
    }
}

/// Great-circle distance in km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both record shapes, decoded through serde as the reader does.
    #[test]
    fn reads_maxmind_and_flat_record_shapes() {
        let maxmind: Record = serde_json::from_str(
            r#"{"country": {"iso_code": "FR", "names": {"en": "France"}},
                "location": {"latitude": 48.85, "longitude": 2.35},
                "autonomous_system_number": 3215,
                "autonomous_system_organization": "Orange"}"#,
        )
        .unwrap();
        assert_eq!(
            Place::from(maxmind),
            Place {
                country: Some("FR".into()),
                asn: Some(3215),
                as_org: Some("Orange".into()),
                location: Some((48.85, 2.35)),
            }
        );
        let flat: Record = serde_json::from_str(
            r#"{"country_code": "de", "as_number": "AS3320", "latitude": 52.5, "longitude": 13.4}"#,
        )
        .unwrap();
        assert_eq!(
            Place::from(flat),
            Place {
                country: Some("DE".into()),
                asn: Some(3320),
                as_org: None,
                location: Some((52.5, 13.4)),
            }
        );
        let asn_db: Record =
            serde_json::from_str(r#"{"asn": 13335, "as_organisation": "Cloudflare"}"#).unwrap();
        let asn_db = Place::from(asn_db);
        assert_eq!(asn_db.asn, Some(13335));
        assert_eq!(asn_db.as_org.as_deref(), Some("Cloudflare"));
        // An organisation without a number is dropped (nothing to group it under).
        let org_only: Record = serde_json::from_str(r#"{"as_organisation": "X"}"#).unwrap();
        assert_eq!(Place::from(org_only), Place::default());
        let empty: Record = serde_json::from_str("{}").unwrap();
        assert_eq!(Place::from(empty), Place::default());
    }

    fn asn(n: u32, org: Option<&str>) -> Place {
        Place {
            asn: Some(n),
            as_org: org.map(Into::into),
            ..Place::default()
        }
    }

    /// The ASN database fills the main one's ASN only where it has none; the rest is kept.
    #[test]
    fn the_asn_database_fills_a_missing_asn() {
        let country = Place {
            country: Some("US".into()),
            location: Some((1.0, 2.0)),
            ..Place::default()
        };
        let merged = country.clone().or_asn_of(asn(15169, Some("Google LLC")));
        assert_eq!(merged.country.as_deref(), Some("US"));
        assert_eq!(merged.location, Some((1.0, 2.0)));
        assert_eq!(
            (merged.asn, merged.as_org.as_deref()),
            (Some(15169), Some("Google LLC"))
        );
        // The main database's own ASN wins; a different one from the second is ignored.
        let own = asn(3320, Some("DTAG"));
        assert_eq!(own.clone().or_asn_of(asn(15169, Some("Google LLC"))), own);
        // Its organisation is taken only for the same number.
        assert_eq!(
            asn(3320, None).or_asn_of(asn(3320, Some("DTAG"))),
            asn(3320, Some("DTAG"))
        );
        assert_eq!(
            asn(3320, None).or_asn_of(asn(15169, Some("Google LLC"))),
            asn(3320, None)
        );
        // Neither knows: nothing.
        assert_eq!(country.clone().or_asn_of(Place::default()), country);
    }

    #[test]
    fn no_files_no_geo() {
        assert!(Geo::open(None, None).unwrap().is_none());
        let missing = Path::new("/nonexistent/asn.mmdb");
        assert!(Geo::open(None, Some(missing)).is_err());
    }

    #[test]
    fn distance_is_great_circle() {
        let paris = (48.8566, 2.3522);
        let new_york = (40.7128, -74.0060);
        let d = distance_km(paris, new_york);
        assert!((5800.0..5900.0).contains(&d), "{d}");
        assert!(distance_km(paris, paris) < 1e-6);
    }

    /// Reads a real database when `AUTHD_TEST_GEOIP_DB` names one (`.ci/run` fetches the CC0
    /// country database of `@ip-location-db/geo-whois-asn-country-mmdb` and sets it).
    #[test]
    fn reads_the_flat_country_shape() {
        let Ok(path) = std::env::var("AUTHD_TEST_GEOIP_DB") else {
            eprintln!("AUTHD_TEST_GEOIP_DB not set: GeoIP file test not run");
            return;
        };
        let db = GeoDb::open(Path::new(&path)).unwrap();
        // 1.1.1.1 (APNIC/Cloudflare research prefix) is registered to Australia; 8.8.8.8 to US.
        assert_eq!(
            db.place("8.8.8.8".parse().unwrap()).country.as_deref(),
            Some("US")
        );
        assert_eq!(db.place("127.0.0.1".parse().unwrap()), Place::default());
    }

    /// Reads a real ASN database when `AUTHD_TEST_GEOIP_ASN_DB` names one (`.ci/run` builds it
    /// from `@ip-location-db/asn`), alone and behind the country database.
    #[test]
    fn reads_a_real_asn_database() {
        let Ok(path) = std::env::var("AUTHD_TEST_GEOIP_ASN_DB") else {
            eprintln!("AUTHD_TEST_GEOIP_ASN_DB not set: ASN file test not run");
            return;
        };
        let country = std::env::var("AUTHD_TEST_GEOIP_DB").ok();
        let geo = Geo::open(country.as_deref().map(Path::new), Some(Path::new(&path)))
            .unwrap()
            .unwrap();
        // 8.8.8.8 is Google's (AS15169).
        let place = geo.place("8.8.8.8".parse().unwrap());
        assert_eq!(place.asn, Some(15169), "{place:?}");
        assert!(place.as_org.is_some_and(|o| o.contains("Google")));
        if country.is_some() {
            assert_eq!(place.country.as_deref(), Some("US"));
        }
        assert_eq!(geo.place("127.0.0.1".parse().unwrap()), Place::default());
    }
}

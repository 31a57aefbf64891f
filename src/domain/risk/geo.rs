//! Optional geolocation from a MaxMind DB file (`AUTHD_GEOIP_DB`): country, ASN and location
//! of an address. Reads both record shapes in use: MaxMind's GeoLite2/GeoIP2
//! (`country.iso_code`, `location.latitude`, `autonomous_system_number`) and the flat one of the
//! ip-location-db files (`country_code`, `latitude`, `as_number`). Without a file every field is
//! absent and the features that need it drop out.

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
    // Flat shape.
    country_code: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    #[serde(alias = "asn")]
    as_number: Option<AsNumber>,
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
                "autonomous_system_number": 3215}"#,
        )
        .unwrap();
        assert_eq!(
            Place::from(maxmind),
            Place {
                country: Some("FR".into()),
                asn: Some(3215),
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
                location: Some((52.5, 13.4)),
            }
        );
        let asn_db: Record = serde_json::from_str(r#"{"asn": 13335}"#).unwrap();
        assert_eq!(Place::from(asn_db).asn, Some(13335));
        let empty: Record = serde_json::from_str("{}").unwrap();
        assert_eq!(Place::from(empty), Place::default());
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
}

"""Writes a MaxMind-format ASN database for the tests (AUTHD_TEST_GEOIP_ASN_DB).

Input: the CSV files of the npm package @ip-location-db/asn (ip_range_start, ip_range_end,
autonomous_system_number, autonomous_system_organization; CC BY 4.0 by RouteViews, DB-IP and
the NRO), as `.ci/run` unpacks them. Output: one IPv6 tree holding IPv4 too, records in
MaxMind's GeoLite2-ASN shape (`autonomous_system_number`, `autonomous_system_organization`).
The registry has no MMDB build of that package, hence this step (about a minute, cached).

Usage: asn_mmdb.py PACKAGE_DIR OUT.mmdb
"""
import csv
import sys

from mmdb_writer import MMDBWriter
from netaddr import IPRange, IPSet


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="authd-test-asn",
        languages=["en"],
        description={"en": "@ip-location-db/asn (CC BY 4.0: RouteViews, DB-IP, NRO)"},
        int_type="u32",
    )
    for name in ("asn-ipv4.csv", "asn-ipv6.csv"):
        with open(f"{src}/{name}", newline="", encoding="utf-8") as f:
            for start, end, number, org in csv.reader(f):
                record = {
                    "autonomous_system_number": int(number),
                    "autonomous_system_organization": org,
                }
                writer.insert_network(IPSet(IPRange(start, end)), record)
    writer.to_db_file(out)


if __name__ == "__main__":
    main()

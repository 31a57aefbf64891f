//! What a person sees of an application on the sign-in and consent pages: its name and logo
//! (`authd client add --name --logo-uri`), checked when registered.

/// A client's display profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProfile {
    /// The application's name (`--name`): 1–80 characters, no control characters.
    pub name: Option<String>,
    /// An absolute `https` (or loopback `http`) address of its logo (`--logo-uri`).
    pub logo_uri: Option<String>,
}

/// The longest name accepted.
const NAME_MAX: usize = 80;

impl ClientProfile {
    /// Checks what `authd client add` was given; the reason when it is refused.
    pub fn parse(name: Option<String>, logo_uri: Option<String>) -> Result<Self, &'static str> {
        let name = name.map(|n| n.trim().to_owned());
        if let Some(n) = &name
            && (n.is_empty() || n.chars().count() > NAME_MAX || n.chars().any(char::is_control))
        {
            return Err("a client name has 1 to 80 characters and no control characters");
        }
        if let Some(uri) = &logo_uri
            && !logo_ok(uri)
        {
            return Err("a logo URI is an absolute https address (http only on loopback)");
        }
        Ok(Self { name, logo_uri })
    }

    /// The name to show: the registered name, else the client id.
    pub fn display_name<'a>(&'a self, client_id: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(client_id)
    }
}

fn logo_ok(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    raw.len() <= 2000
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_logos_are_checked() {
        let ok = ClientProfile::parse(
            Some(" Acme Notes ".into()),
            Some("https://acme.example/l.png".into()),
        )
        .unwrap();
        assert_eq!(ok.display_name("notes"), "Acme Notes");
        assert_eq!(ClientProfile::default().display_name("notes"), "notes");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(81)] {
            assert!(
                ClientProfile::parse(Some(bad.into()), None).is_err(),
                "{bad:?}"
            );
        }
        for bad in [
            "http://acme.example/l.png",
            "javascript:alert(1)",
            "/relative.png",
            "https://u:p@acme.example/l.png",
            "https://acme.example/l.png#x",
        ] {
            assert!(
                ClientProfile::parse(None, Some(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(ClientProfile::parse(None, Some("http://127.0.0.1:5000/logo.svg".into())).is_ok());
    }
}

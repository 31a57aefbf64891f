//! What a person sees of an application on the sign-in and consent pages: its name and logo,
//! and the consent page's links to its home page, privacy policy and terms (`authd client
//! add|update --name --logo-uri --client-uri --policy-uri --tos-uri`), checked when registered.

/// A client's display profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProfile {
    /// The application's name (`--name`): 1–80 characters, no control characters.
    pub name: Option<String>,
    /// An absolute `https` (or loopback `http`) address of its logo (`--logo-uri`).
    pub logo_uri: Option<String>,
    /// Its home page (`--client-uri`), the same rule.
    pub client_uri: Option<String>,
    /// Its privacy policy (`--policy-uri`), the same rule.
    pub policy_uri: Option<String>,
    /// Its terms of service (`--tos-uri`), the same rule.
    pub tos_uri: Option<String>,
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
        Ok(Self {
            name,
            logo_uri,
            ..Self::default()
        })
    }

    /// Checks the whole profile (`parse`, then each link): the reason, naming the flag, when
    /// one is refused.
    pub fn checked(self) -> Result<Self, &'static str> {
        let links = [
            (
                &self.client_uri,
                "--client-uri must be an absolute https address (http only on loopback)",
            ),
            (
                &self.policy_uri,
                "--policy-uri must be an absolute https address (http only on loopback)",
            ),
            (
                &self.tos_uri,
                "--tos-uri must be an absolute https address (http only on loopback)",
            ),
        ];
        if let Some((_, why)) = links
            .iter()
            .find(|(u, _)| u.as_deref().is_some_and(|u| !logo_ok(u)))
        {
            return Err(*why);
        }
        let base = Self::parse(self.name, self.logo_uri)?;
        Ok(Self {
            client_uri: self.client_uri,
            policy_uri: self.policy_uri,
            tos_uri: self.tos_uri,
            ..base
        })
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

    #[test]
    fn links_are_checked_and_the_error_names_the_flag() {
        let with = |policy: &str| ClientProfile {
            policy_uri: Some(policy.into()),
            ..ClientProfile::default()
        };
        assert!(with("https://acme.example/privacy").checked().is_ok());
        assert!(with("http://localhost:3000/privacy").checked().is_ok());
        for bad in [
            "http://acme.example/privacy",
            "javascript:alert(1)",
            "/privacy",
        ] {
            let err = with(bad).checked().unwrap_err();
            assert!(err.starts_with("--policy-uri"), "{bad}: {err}");
        }
        let tos = ClientProfile {
            tos_uri: Some("ftp://acme.example/tos".into()),
            ..ClientProfile::default()
        };
        assert!(tos.checked().unwrap_err().starts_with("--tos-uri"));
    }
}

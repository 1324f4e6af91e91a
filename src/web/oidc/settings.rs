//! The settings of signing in through the organisation's identity provider (OpenID
//! Connect), each a `serve` option with an environment variable, and the role map that
//! turns the provider's groups into Gatehouse roles.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// How `gatehouse serve` signs people in through an identity provider. Without
/// `--oidc-issuer`, people sign in with tokens only.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OidcSettings {
    /// The identity provider's issuer URL (its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`), e.g.
    /// `https://login.microsoftonline.com/{tenant-id}/v2.0`. Unset: no sign-in through
    /// an identity provider.
    #[arg(long = "oidc-issuer", env = "GATEHOUSE_OIDC_ISSUER")]
    pub issuer: Option<String>,
    /// The client (application) id Gatehouse is registered with at the provider.
    #[arg(long = "oidc-client-id", env = "GATEHOUSE_OIDC_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The client secret.
    #[arg(long = "oidc-client-secret", env = "GATEHOUSE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A file holding the client secret (a trailing newline is ignored), instead of
    /// `--oidc-client-secret`.
    #[arg(long = "oidc-client-secret-file", env = "GATEHOUSE_OIDC_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// The scopes asked for, separated by spaces.
    #[arg(long = "oidc-scopes", env = "GATEHOUSE_OIDC_SCOPES", default_value = "openid email profile")]
    pub scopes: String,
    /// The claim that holds the person's email address (`email`; `preferred_username`
    /// for Entra ID without the optional `email` claim).
    #[arg(long = "oidc-email-claim", env = "GATEHOUSE_OIDC_EMAIL_CLAIM", default_value = "email")]
    pub email_claim: String,
    /// The claim that holds the person's groups (a list of strings).
    #[arg(long = "oidc-groups-claim", env = "GATEHOUSE_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub groups_claim: String,
    /// Which role each group gives, `group=role`; repeat, or separate with commas. Set:
    /// the roles it names follow the person's groups at every sign-in. Unset: roles are
    /// given on the people page.
    #[arg(long = "oidc-role-map", env = "GATEHOUSE_OIDC_ROLE_MAP", value_delimiter = ',')]
    pub role_map: Vec<String>,
    /// A file of `group=role` lines (blank lines and `#` comments ignored), read with
    /// `--oidc-role-map` when `serve` starts: for a map kept under version control.
    #[arg(long = "oidc-role-map-file", env = "GATEHOUSE_OIDC_ROLE_MAP_FILE")]
    pub role_map_file: Option<PathBuf>,
    /// What the sign-in button calls the provider: "Sign in with …".
    #[arg(
        long = "oidc-provider-name",
        env = "GATEHOUSE_OIDC_PROVIDER_NAME",
        default_value = "your organisation's account"
    )]
    pub provider_name: String,
}

/// Which Gatehouse role each of the provider's groups gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap {
    pairs: Vec<(String, String)>,
}

impl RoleMap {
    /// Read the option's `group=role` entries and the lines of `file` (blank lines and
    /// `#` comments ignored); the group is everything before the last `=`. Every
    /// malformed entry is reported, not just the first, each where it is (`file:line`).
    pub fn read(entries: &[String], file: Option<&std::path::Path>) -> Result<RoleMap> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the role map file {} (--oidc-role-map-file)", path.display()))?,
            None => String::new(),
        };
        let mut located: Vec<(String, &str)> =
            entries.iter().map(|e| ("--oidc-role-map".to_string(), e.as_str())).collect();
        if let Some(path) = file {
            for (n, line) in text.lines().enumerate() {
                if !line.trim_start().starts_with('#') {
                    located.push((format!("{}:{}", path.display(), n + 1), line));
                }
            }
        }
        RoleMap::parse_located(&located)
    }

    fn parse_located(entries: &[(String, &str)]) -> Result<RoleMap> {
        let mut pairs = Vec::new();
        let mut problems = Vec::new();
        for (at, entry) in entries.iter().map(|(at, e)| (at, e.trim())).filter(|(_, e)| !e.is_empty()) {
            match entry.rsplit_once('=') {
                Some((group, role)) if !group.trim().is_empty() && is_role_id(role.trim()) => {
                    pairs.push((group.trim().to_string(), role.trim().to_string()));
                }
                _ => problems.push(format!(
                    "{at}: `{entry}` is not `group=role` (a role id is snake_case, like `commissioner`)"
                )),
            }
        }
        if !problems.is_empty() {
            bail!("the role map: {}", problems.join("; "));
        }
        Ok(RoleMap { pairs })
    }

    /// Whether the map names any role: if not, roles are given in Gatehouse.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every role the map names, sorted, once each.
    pub fn managed(&self) -> Vec<String> {
        let mut roles: Vec<String> = self.pairs.iter().map(|(_, r)| r.clone()).collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// The roles `groups` give, sorted, once each.
    pub fn roles_of(&self, groups: &[String]) -> Vec<String> {
        let mut roles: Vec<String> =
            self.pairs.iter().filter(|(g, _)| groups.iter().any(|x| x == g)).map(|(_, r)| r.clone()).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

impl OidcSettings {
    /// Whether sign-in through a provider is configured at all. A role map without an
    /// issuer is a mistake worth stopping for: nobody would get the roles it names.
    pub fn enabled(&self) -> Result<bool> {
        let enabled = self.issuer.as_deref().is_some_and(|i| !i.trim().is_empty());
        if !enabled && (self.role_map.iter().any(|e| !e.trim().is_empty()) || self.role_map_file.is_some()) {
            bail!("a role map is set (--oidc-role-map or --oidc-role-map-file), but --oidc-issuer is not");
        }
        Ok(enabled)
    }

    /// The client secret, from the option or its file.
    pub fn secret(&self) -> Result<Option<String>> {
        if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the OIDC client secret file {}", path.display()))?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        Ok(self.client_secret.clone().filter(|s| !s.is_empty()))
    }
}

fn is_role_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::RoleMap;

    #[test]
    fn a_role_map_gives_the_roles_of_the_groups_it_names() {
        let entries = ["0f3c-aa=commissioner", "/leeds/governance=pig", "x=y=governance", "0f3c-aa=pig"];
        let map = RoleMap::read(&entries.map(String::from), None).unwrap();
        assert_eq!(map.managed(), ["commissioner", "governance", "pig"]);
        assert_eq!(map.roles_of(&["0f3c-aa".into(), "other".into()]), ["commissioner", "pig"]);
        assert_eq!(map.roles_of(&["x=y".into()]), ["governance"]);
        assert!(map.roles_of(&[]).is_empty());
    }

    #[test]
    fn a_role_map_file_adds_to_the_option_and_says_where_a_line_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roles.map");
        std::fs::write(&file, "# Leeds groups\n\n0f3c-aa = commissioner\n  # the panel\n/panel=pig\n").unwrap();
        let map = RoleMap::read(&["x=governance".into()], Some(&file)).unwrap();
        assert_eq!(map.managed(), ["commissioner", "governance", "pig"]);
        assert_eq!(map.roles_of(&["/panel".into()]), ["pig"]);
        std::fs::write(&file, "0f3c-aa=commissioner\nno role here\n").unwrap();
        let err = RoleMap::read(&[], Some(&file)).unwrap_err().to_string();
        assert!(err.contains(&format!("{}:2: `no role here`", file.display())), "{err}");
        let missing = RoleMap::read(&[], Some(&dir.path().join("nope"))).unwrap_err();
        assert!(format!("{missing:#}").contains("--oidc-role-map-file"), "{missing:#}");
    }

    #[test]
    fn a_malformed_role_map_is_refused_naming_every_bad_entry() {
        let err = RoleMap::read(&["nogroup".into(), "g=Bad Role".into(), "=pig".into()], None).unwrap_err().to_string();
        assert!(err.contains("`nogroup`") && err.contains("`g=Bad Role`") && err.contains("`=pig`"), "{err}");
    }
}

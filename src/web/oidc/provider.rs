//! The identity provider as Gatehouse sees it: found by discovery when `serve` starts,
//! asked for an authorization code (with PKCE, a state and a nonce), and the code
//! exchanged for an ID token whose signature, issuer, audience, expiry and nonce the
//! `openidconnect` crate checks. What comes out is who the provider says signed in.

use super::settings::{OidcSettings, RoleMap};
use anyhow::{Context, Result, anyhow};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, SubjectIdentifier,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// The discovered client: an authorization endpoint for sure, a token and a userinfo
/// endpoint if the provider names them.
type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Claims beyond the standard ones (the groups, an email in another claim), by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(flatten)]
    claims: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for Extra {}

type IdToken =
    openidconnect::IdToken<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// A configured, discovered identity provider.
pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    /// The client of the last discovery; discovered again when a token is signed with a
    /// key it does not know (the provider rotated its keys).
    client: RwLock<Client>,
    http: reqwest::Client,
    scopes: Vec<String>,
    email_claim: String,
    groups_claim: String,
    /// The role map; empty when roles are given in Gatehouse.
    pub roles: RoleMap,
    /// What the sign-in button calls the provider.
    pub name: String,
}

/// One sign-in in flight: what the callback must find again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// The `state` sent to the provider, which must come back.
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier the code is exchanged with.
    pub verifier: String,
    /// Where to go once signed in (a path on this site).
    pub next: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Their email address, as the configured claim gives it.
    pub email: String,
    /// Their name, if the provider gives one.
    pub name: String,
    /// Their groups, as the configured claim gives them.
    pub groups: Vec<String>,
}

/// Why a sign-in did not complete, in words for the person (after "The sign-in did
/// not complete: ").
#[derive(Debug)]
pub enum Refused {
    /// The person's fault or an attack: 400.
    Bad(String),
    /// The provider could not be reached or answered nonsense: 502.
    Provider(String),
}

impl Provider {
    /// Discover the provider at `settings.issuer`. Fails, saying so, when it cannot be
    /// reached or its discovery document is wrong: `serve` does not start without it.
    pub async fn discover(settings: &OidcSettings, base_url: &str) -> Result<Provider> {
        let issuer_text = settings.issuer.clone().unwrap_or_default();
        let issuer = IssuerUrl::new(issuer_text.trim().to_string())
            .with_context(|| format!("--oidc-issuer `{issuer_text}` is not a URL"))?;
        let client_id = settings
            .client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| anyhow!("--oidc-issuer is set, but --oidc-client-id is not"))?;
        let redirect = format!("{}/sign-in/oidc/callback", base_url.trim_end_matches('/'));
        let redirect = RedirectUrl::new(redirect.clone())
            .with_context(|| format!("the redirect URI `{redirect}` is not a URL"))?;
        let roles = RoleMap::read(&settings.role_map, settings.role_map_file.as_deref())?;
        // The provider's answers are never followed to another address (SSRF), and a
        // provider that does not answer does not hold a sign-in for long.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .context("building the HTTP client for the identity provider")?;
        let client_id = ClientId::new(client_id.trim().to_string());
        let secret = settings.secret()?.map(ClientSecret::new);
        let client = discover(&issuer, &client_id, &secret, &redirect, &http).await?;
        Ok(Provider {
            issuer,
            client_id,
            secret,
            redirect,
            client: RwLock::new(client),
            http,
            scopes: settings.scopes.split_whitespace().filter(|s| *s != "openid").map(String::from).collect(),
            email_claim: settings.email_claim.trim().to_string(),
            groups_claim: settings.groups_claim.trim().to_string(),
            roles,
            name: settings.provider_name.trim().to_string(),
        })
    }

    /// Where to send the browser to sign in, and the attempt to keep until it is back.
    pub fn authorize(&self, next: String) -> (String, Attempt) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client.read().unwrap_or_else(|e| e.into_inner());
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let attempt = Attempt {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next,
        };
        (url.to_string(), attempt)
    }

    /// Exchange `code` for the ID token, check it, and read who signed in.
    pub async fn finish(&self, code: String, attempt: &Attempt) -> Result<Identity, Refused> {
        let client = self.client.read().unwrap_or_else(|e| e.into_inner()).clone();
        let request = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| Refused::Provider("the identity provider has no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.verifier.clone()));
        let response = request.request_async(&self.http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) if *r.error() == CoreErrorResponseType::InvalidGrant => Refused::Bad(
                "the identity provider refused the sign-in code: it has been used already, or it has expired".into(),
            ),
            RequestTokenError::ServerResponse(r) => {
                Refused::Bad(format!("the identity provider refused to finish it ({})", r.error()))
            }
            other => {
                tracing::warn!(error = %format!("{other:#}"), "the identity provider's token endpoint failed");
                Refused::Provider(
                    "the identity provider could not be reached, or gave an answer we could not read".into(),
                )
            }
        })?;
        let token = response
            .id_token()
            .ok_or_else(|| Refused::Provider("the identity provider sent no ID token".into()))?
            .to_string();
        let token: IdToken = token.parse().map_err(|_| Refused::Bad("the ID token could not be read".into()))?;
        let nonce = Nonce::new(attempt.nonce.clone());
        let verified = match token.claims(&client.id_token_verifier(), &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The provider may have rotated its signing keys since we last looked.
                self.rediscover().await;
                let client = self.client.read().unwrap_or_else(|e| e.into_inner()).clone();
                token.claims(&client.id_token_verifier(), &nonce).cloned()
            }
            other => other.cloned(),
        }
        .map_err(|e| {
            tracing::warn!(error = %e, "an ID token was refused");
            Refused::Bad(refusal(&e))
        })?;
        if verified.email_verified() == Some(false) {
            return Err(Refused::Bad("the identity provider says the email address has not been verified".into()));
        }
        let mut email = self.claim_text(&self.email_claim, &verified);
        let mut groups = verified.additional_claims().claims.get(&self.groups_claim).map(strings);
        let mut elsewhere = names_elsewhere(verified.additional_claims(), &self.groups_claim);
        if email.is_none() || groups.is_none() {
            // Some providers put these in the userinfo answer only.
            if let Some(info) = self.user_info(&client, response.access_token(), verified.subject()).await {
                email = email.or_else(|| self.claim_text(&self.email_claim, &info));
                groups = groups.or_else(|| info.additional_claims().claims.get(&self.groups_claim).map(strings));
                elsewhere = elsewhere || names_elsewhere(info.additional_claims(), &self.groups_claim);
                if info.email_verified() == Some(false) {
                    return Err(Refused::Bad(
                        "the identity provider says the email address has not been verified".into(),
                    ));
                }
            }
        }
        // Groups left out to be fetched from elsewhere (a distributed claim: Entra ID's
        // answer for someone in more than 200 groups) are not "in no group": with a role
        // map, reading them as that would take the person's roles away.
        if groups.is_none() && elsewhere && !self.roles.is_empty() {
            return Err(Refused::Bad(format!(
                "the identity provider did not list your groups (claim `{}`) but said to fetch them elsewhere, as it \
                 does for someone in very many groups, so Gatehouse cannot tell your roles; your administrator can \
                 have it send only the groups assigned to Gatehouse",
                self.groups_claim
            )));
        }
        let email = email.ok_or_else(|| {
            Refused::Bad(format!("the identity provider did not say the email address (claim `{}`)", self.email_claim))
        })?;
        let name = verified.name().and_then(|n| n.get(None)).map(|n| n.to_string()).unwrap_or_default();
        Ok(Identity { email, name, groups: groups.unwrap_or_default() })
    }

    /// The claim `name` as text, standard or not.
    fn claim_text<C: ClaimSource>(&self, name: &str, claims: &C) -> Option<String> {
        claims.text(name).map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }

    async fn user_info(
        &self,
        client: &Client,
        token: &AccessToken,
        subject: &SubjectIdentifier,
    ) -> Option<openidconnect::UserInfoClaims<Extra, CoreGenderClaim>> {
        let request = client.user_info(token.clone(), Some(subject.clone())).ok()?;
        match request.request_async(&self.http).await {
            Ok(info) => Some(info),
            Err(e) => {
                tracing::warn!(error = %e, "the identity provider's userinfo endpoint failed");
                None
            }
        }
    }

    async fn rediscover(&self) {
        match discover(&self.issuer, &self.client_id, &self.secret, &self.redirect, &self.http).await {
            Ok(client) => *self.client.write().unwrap_or_else(|e| e.into_inner()) = client,
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "the identity provider could not be discovered again"),
        }
    }
}

async fn discover(
    issuer: &IssuerUrl,
    client_id: &ClientId,
    secret: &Option<ClientSecret>,
    redirect: &RedirectUrl,
    http: &reqwest::Client,
) -> Result<Client> {
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), http)
        .await
        .with_context(|| format!("cannot discover the identity provider at {} (--oidc-issuer)", issuer.as_str()))?;
    Ok(CoreClient::from_provider_metadata(metadata, client_id.clone(), secret.clone())
        .set_redirect_uri(redirect.clone()))
}

/// What went wrong with an ID token, in words.
fn refusal(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::Expired(_) => "the identity provider's ID token has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => "the ID token was issued for another application".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token was issued by another identity provider".into(),
        ClaimsVerificationError::InvalidNonce(_) => "the ID token belongs to another sign-in".into(),
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature is not valid: it was altered, or not made by the identity provider".into()
        }
        _ => "the ID token is not valid".into(),
    }
}

/// A list of strings from a claim (a single string counts as a list of one).
/// Whether `claims` say claim `name` is to be fetched from elsewhere (`_claim_names`:
/// an aggregated or distributed claim, OpenID Connect Core 5.6.2).
fn names_elsewhere(claims: &Extra, name: &str) -> bool {
    claims.claims.get("_claim_names").and_then(|n| n.get(name)).is_some()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// Claims a name can be read from: the ID token's, or the userinfo answer's.
trait ClaimSource {
    fn text(&self, name: &str) -> Option<String>;
}

impl ClaimSource for openidconnect::IdTokenClaims<Extra, CoreGenderClaim> {
    fn text(&self, name: &str) -> Option<String> {
        claim_text(name, self.email(), self.preferred_username(), self.additional_claims())
    }
}

impl ClaimSource for openidconnect::UserInfoClaims<Extra, CoreGenderClaim> {
    fn text(&self, name: &str) -> Option<String> {
        claim_text(name, self.email(), self.preferred_username(), self.additional_claims())
    }
}

/// Claim `name` as text: the standard `email` and `preferred_username` where the crate
/// parsed them, any other from the claims it did not.
fn claim_text(
    name: &str,
    email: Option<&openidconnect::EndUserEmail>,
    username: Option<&openidconnect::EndUserUsername>,
    extra: &Extra,
) -> Option<String> {
    match name {
        "email" => email.map(|e| e.as_str().to_string()),
        "preferred_username" => username.map(|u| u.as_str().to_string()),
        _ => None,
    }
    .or_else(|| extra.claims.get(name).and_then(|v| v.as_str().map(String::from)))
}

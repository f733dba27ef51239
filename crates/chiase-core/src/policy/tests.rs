//! The decision table: every sharing mode × subject × field class × grant
//! state × action, against the rules as the issue states them (written here
//! a second time, independently of `decide`), plus spot checks by hand.

use chrono::{Duration, TimeZone, Utc};

use super::*;

const OWNER: i64 = 10;
const CONSUMER: i64 = 20;
const DATASET: i64 = 7;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn dataset(mode: SharingMode) -> DatasetFacts {
    DatasetFacts {
        dataset_id: DATASET,
        owner_agency_id: OWNER,
        mode,
        fields: vec![
            ("ma".into(), PersonalClass::None),
            ("ho_ten".into(), PersonalClass::Basic),
            ("suc_khoe".into(), PersonalClass::Sensitive),
            ("ghi_chu".into(), PersonalClass::None),
        ],
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    PublicUser,
    OwnerMember,
    OwnerSteward,
    OwnerAdmin,
    ConsumerMember,
    ConsumerSteward,
    OtherAdmin,
    Operator,
}

const WHO: [Who; 9] = [
    Who::Anonymous,
    Who::PublicUser,
    Who::OwnerMember,
    Who::OwnerSteward,
    Who::OwnerAdmin,
    Who::ConsumerMember,
    Who::ConsumerSteward,
    Who::OtherAdmin,
    Who::Operator,
];

fn subject(w: Who) -> Subject {
    let user = |agency_id, role| Subject::User { user_id: 1, agency_id, role };
    match w {
        Who::Anonymous => Subject::Anonymous,
        Who::PublicUser => user(None, Role::Member),
        Who::OwnerMember => user(Some(OWNER), Role::Member),
        Who::OwnerSteward => user(Some(OWNER), Role::Steward),
        Who::OwnerAdmin => user(Some(OWNER), Role::Admin),
        Who::ConsumerMember => user(Some(CONSUMER), Role::Member),
        Who::ConsumerSteward => user(Some(CONSUMER), Role::Steward),
        Who::OtherAdmin => user(Some(99), Role::Admin),
        Who::Operator => Subject::Operator,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GrantCase {
    None,
    Pending,
    Active,
    Expired,
    NotYet,
    Revoked,
    Refused,
    Withdrawn,
}

const GRANTS: [GrantCase; 8] = [
    GrantCase::None,
    GrantCase::Pending,
    GrantCase::Active,
    GrantCase::Expired,
    GrantCase::NotYet,
    GrantCase::Revoked,
    GrantCase::Refused,
    GrantCase::Withdrawn,
];

/// What a grant names: every non-personal field, the basic field, or the
/// sensitive field with or without a legal basis.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    AllNonPersonal,
    NamesBasic,
    NamesSensitiveWithBasis,
    NamesSensitiveWithoutBasis,
}

const SCOPES: [Scope; 4] = [Scope::AllNonPersonal, Scope::NamesBasic, Scope::NamesSensitiveWithBasis, Scope::NamesSensitiveWithoutBasis];

fn grant(case: GrantCase, scope: Scope) -> Vec<GrantFacts> {
    let (state, from, to) = match case {
        GrantCase::None => return vec![],
        GrantCase::Pending => (GrantState::Pending, now() - Duration::days(1), now() + Duration::days(30)),
        GrantCase::Active => (GrantState::Active, now() - Duration::days(1), now() + Duration::days(30)),
        GrantCase::Expired => (GrantState::Active, now() - Duration::days(60), now() - Duration::days(1)),
        GrantCase::NotYet => (GrantState::Active, now() + Duration::days(1), now() + Duration::days(60)),
        GrantCase::Revoked => (GrantState::Revoked, now() - Duration::days(1), now() + Duration::days(30)),
        GrantCase::Refused => (GrantState::Refused, now() - Duration::days(1), now() + Duration::days(30)),
        GrantCase::Withdrawn => (GrantState::Withdrawn, now() - Duration::days(1), now() + Duration::days(30)),
    };
    let (fields, legal_basis) = match scope {
        Scope::AllNonPersonal => (None, None),
        Scope::NamesBasic => (Some(vec!["ma".to_string(), "ho_ten".to_string()]), None),
        Scope::NamesSensitiveWithBasis => (Some(vec!["ma".into(), "suc_khoe".into()]), Some("Luật Đất đai 2024, Điều 59".to_string())),
        Scope::NamesSensitiveWithoutBasis => (Some(vec!["ma".into(), "suc_khoe".into()]), None),
    };
    vec![GrantFacts { grant_id: 99, dataset_id: DATASET, agency_id: CONSUMER, state, fields, legal_basis, valid_from: from, valid_to: to }]
}

/// The rules as the issue writes them, returning the visible field names or
/// `None` for a denial.
fn expected(mode: SharingMode, who: Who, case: GrantCase, scope: Scope, action: Action) -> Option<Vec<&'static str>> {
    let owner = matches!(who, Who::OwnerMember | Who::OwnerSteward | Who::OwnerAdmin);
    if action == Action::Write {
        return matches!(who, Who::OwnerSteward | Who::Operator).then(Vec::new);
    }
    if owner || who == Who::Operator {
        return Some(vec!["ma", "ho_ten", "suc_khoe", "ghi_chu"]);
    }
    let has_grant = case == GrantCase::Active && matches!(who, Who::ConsumerMember | Who::ConsumerSteward);
    let state_user = !matches!(who, Who::Anonymous | Who::PublicUser);
    // Personal fields a grant adds (named; sensitive only with a legal basis).
    let personal_from_grant: Vec<&str> = match (has_grant, scope) {
        (true, Scope::NamesBasic) => vec!["ho_ten"],
        (true, Scope::NamesSensitiveWithBasis) => vec!["suc_khoe"],
        _ => vec![],
    };
    let order = ["ma", "ho_ten", "suc_khoe", "ghi_chu"];
    let sorted = |mut v: Vec<&'static str>| {
        v.sort_by_key(|f| order.iter().position(|o| o == f));
        v
    };
    match mode {
        SharingMode::Open => Some(sorted([vec!["ma", "ghi_chu"], personal_from_grant].concat())),
        SharingMode::Default if state_user => Some(sorted([vec!["ma", "ghi_chu"], personal_from_grant].concat())),
        SharingMode::Default => None,
        SharingMode::Specific | SharingMode::Legal if has_grant => Some(sorted(match scope {
            Scope::AllNonPersonal => vec!["ma", "ghi_chu"],
            Scope::NamesBasic => vec!["ma", "ho_ten"],
            Scope::NamesSensitiveWithBasis => vec!["ma", "suc_khoe"],
            Scope::NamesSensitiveWithoutBasis => vec!["ma"],
        })),
        SharingMode::Specific | SharingMode::Legal => None,
    }
}

#[test]
fn every_case_of_the_decision_table_follows_the_rules() {
    let mut cases = 0;
    for mode in SharingMode::ALL {
        let ds = dataset(mode);
        for who in WHO {
            for case in GRANTS {
                for scope in SCOPES {
                    for action in [Action::Read, Action::Write] {
                        let got = decide(&subject(who), action, &ds, now(), &grant(case, scope));
                        let got_fields = match (&got, action) {
                            (Decision::Read(p), Action::Read) => {
                                Some(p.visible().iter().map(|i| ds.fields[*i].0.as_str()).collect::<Vec<_>>())
                            }
                            (Decision::Write(_), Action::Write) => Some(vec![]),
                            (Decision::Deny(_), _) => None,
                            _ => panic!("decision of the wrong kind: {got:?}"),
                        };
                        let want = expected(mode, who, case, scope, action);
                        assert_eq!(
                            got_fields.as_ref().map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                            want.map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                            "mode {mode:?}, {who:?}, grant {case:?}/{scope:?}, {action:?}: {got:?}"
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 4 * 9 * 8 * 4 * 2);
}

#[test]
fn the_public_reads_open_data_without_personal_fields() {
    let p = decide(&Subject::Anonymous, Action::Read, &dataset(SharingMode::Open), now(), &[]).read().unwrap();
    assert_eq!(p.visible(), &[0, 3]);
    assert_eq!(p.reason(), Reason::OpenData);
    assert!(!p.is_restricted());
    assert_eq!(p.grant_used(), None);
}

#[test]
fn restricted_reads_name_their_grant_and_are_marked_for_the_audit_log() {
    let grants = grant(GrantCase::Active, Scope::NamesBasic);
    let p = decide(&subject(Who::ConsumerMember), Action::Read, &dataset(SharingMode::Specific), now(), &grants).read().unwrap();
    assert_eq!(p.grant_used(), Some(99));
    assert_eq!(p.reason(), Reason::Grant);
    assert!(p.is_restricted());
    // An open dataset read with a grant for a personal field is restricted too.
    let p = decide(&subject(Who::ConsumerMember), Action::Read, &dataset(SharingMode::Open), now(), &grants).read().unwrap();
    assert_eq!(p.grant_used(), Some(99));
    assert!(p.is_restricted());
}

#[test]
fn denials_say_why() {
    let deny = |who, mode| decide(&subject(who), Action::Read, &dataset(mode), now(), &[]).read().unwrap_err();
    assert_eq!(deny(Who::Anonymous, SharingMode::Default), Reason::SignInRequired);
    assert_eq!(deny(Who::PublicUser, SharingMode::Default), Reason::NotStateAgency);
    assert_eq!(deny(Who::ConsumerMember, SharingMode::Legal), Reason::NoActiveGrant);
    assert_eq!(deny(Who::OtherAdmin, SharingMode::Specific), Reason::NoActiveGrant, "admins read only as anyone else would");
    let w = decide(&subject(Who::OwnerMember), Action::Write, &dataset(SharingMode::Open), now(), &[]).write().unwrap_err();
    assert_eq!(w, Reason::NotSteward);
    assert!(!Reason::NoActiveGrant.msg().vi.is_empty());
}

#[test]
fn another_agencys_grant_opens_nothing() {
    let mut grants = grant(GrantCase::Active, Scope::AllNonPersonal);
    grants[0].agency_id = 55;
    assert!(decide(&subject(Who::ConsumerMember), Action::Read, &dataset(SharingMode::Specific), now(), &grants).read().is_err());
    let mut grants = grant(GrantCase::Active, Scope::AllNonPersonal);
    grants[0].dataset_id = 8;
    assert!(decide(&subject(Who::ConsumerMember), Action::Read, &dataset(SharingMode::Specific), now(), &grants).read().is_err());
}

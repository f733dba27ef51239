//! The decision table: every sharing mode × subject × field class × grant
//! state × action, against the rules as the issue states them (written here
//! a second time, independently of `decide`), plus spot checks by hand.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::ids::{AgencyId, DatasetId, RequestId, UserId};
use crate::requests::{RequestStatus, Step};
use crate::schema::PersonalClass;
use crate::sharing::SharingMode;
use chrono::DateTime;

const OWNER: AgencyId = AgencyId(10);
const CONSUMER: AgencyId = AgencyId(20);
const DATASET: DatasetId = DatasetId(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Read,
    Write,
}

#[derive(Debug)]
enum Decision {
    Read(ReadPermit),
    Write,
    Deny,
}

/// Both data decisions through one door, for the table below.
fn decide(subject: &Subject, action: Action, ds: &DatasetFacts, now: DateTime<Utc>, grants: &[GrantFacts]) -> Decision {
    match action {
        Action::Read => decide_read(subject, ds, now, grants).map_or(Decision::Deny, Decision::Read),
        Action::Write => decide_write(subject, ds).map_or(Decision::Deny, |_| Decision::Write),
    }
}

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
        key: vec![0],
        harvested: false,
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
    let user = |agency_id, role| Subject::User { user_id: UserId(1), agency_id, agency_active: true, role };
    match w {
        Who::Anonymous => Subject::Anonymous,
        Who::PublicUser => user(None, Role::Member),
        Who::OwnerMember => user(Some(OWNER), Role::Member),
        Who::OwnerSteward => user(Some(OWNER), Role::Steward),
        Who::OwnerAdmin => user(Some(OWNER), Role::Admin),
        Who::ConsumerMember => user(Some(CONSUMER), Role::Member),
        Who::ConsumerSteward => user(Some(CONSUMER), Role::Steward),
        Who::OtherAdmin => user(Some(AgencyId(99)), Role::Admin),
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
    vec![GrantFacts {
        grant_id: RequestId(99),
        dataset_id: DATASET,
        agency_id: CONSUMER,
        state,
        fields,
        legal_basis,
        valid_from: from,
        valid_to: to,
    }]
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
                            (Decision::Write, Action::Write) => Some(vec![]),
                            (Decision::Deny, _) => None,
                            (d, a) => panic!("decision of the wrong kind for {a:?}: {d:?}"),
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
    let p = decide_read(&Subject::Anonymous, &dataset(SharingMode::Open), now(), &[]).unwrap();
    assert_eq!(p.visible(), &[0, 3]);
    assert_eq!(p.reason(), Reason::OpenData);
    assert!(!p.is_restricted());
    assert_eq!(p.grant_used(), None);
}

#[test]
fn restricted_reads_name_their_grant_and_are_marked_for_the_audit_log() {
    let grants = grant(GrantCase::Active, Scope::NamesBasic);
    let p = decide_read(&subject(Who::ConsumerMember), &dataset(SharingMode::Specific), now(), &grants).unwrap();
    assert_eq!(p.grant_used(), Some(RequestId(99)));
    assert_eq!(p.reason(), Reason::Grant);
    assert!(p.is_restricted());
    // An open dataset read with a grant for a personal field is restricted too.
    let p = decide_read(&subject(Who::ConsumerMember), &dataset(SharingMode::Open), now(), &grants).unwrap();
    assert_eq!(p.grant_used(), Some(RequestId(99)));
    assert!(p.is_restricted());
}

#[test]
fn denials_say_why() {
    let deny = |who, mode| decide_read(&subject(who), &dataset(mode), now(), &[]).unwrap_err();
    assert_eq!(deny(Who::Anonymous, SharingMode::Default), Reason::SignInRequired);
    assert_eq!(deny(Who::PublicUser, SharingMode::Default), Reason::NotStateAgency);
    assert_eq!(deny(Who::ConsumerMember, SharingMode::Legal), Reason::NoActiveGrant);
    assert_eq!(deny(Who::OtherAdmin, SharingMode::Specific), Reason::NoActiveGrant, "admins read only as anyone else would");
    let w = decide_write(&subject(Who::OwnerMember), &dataset(SharingMode::Open)).unwrap_err();
    assert_eq!(w, Reason::NotSteward);
    assert!(!Reason::NoActiveGrant.msg().vi.is_empty());
}

#[test]
fn another_agencys_grant_opens_nothing() {
    let mut grants = grant(GrantCase::Active, Scope::AllNonPersonal);
    grants[0].agency_id = AgencyId(55);
    assert!(decide_read(&subject(Who::ConsumerMember), &dataset(SharingMode::Specific), now(), &grants).is_err());
    let mut grants = grant(GrantCase::Active, Scope::AllNonPersonal);
    grants[0].dataset_id = DatasetId(8);
    assert!(decide_read(&subject(Who::ConsumerMember), &dataset(SharingMode::Specific), now(), &grants).is_err());
}

/// A user of an agency that merged away acts as a member of the public:
/// no default sharing, no grant, no owner access, no new requests.
#[test]
fn an_ended_agency_is_no_state_agency() {
    let ended = |role| Subject::User { user_id: UserId(5), agency_id: Some(OWNER), agency_active: false, role };
    assert_eq!(decide_read(&ended(Role::Member), &dataset(SharingMode::Default), now(), &[]).unwrap_err(), Reason::NotStateAgency);
    let p = decide_read(&ended(Role::Member), &dataset(SharingMode::Open), now(), &[]).unwrap();
    assert_eq!(p.visible(), &[0, 3], "not the owner any more: personal fields are hidden");
    assert!(decide_write(&ended(Role::Steward), &dataset(SharingMode::Open)).is_err());
    let consumer_ended = Subject::User { user_id: UserId(6), agency_id: Some(CONSUMER), agency_active: false, role: Role::Member };
    let grants = grant(GrantCase::Active, Scope::AllNonPersonal);
    assert!(decide_read(&consumer_ended, &dataset(SharingMode::Specific), now(), &grants).is_err());
    assert_eq!(decide_filing(&consumer_ended, &dataset(SharingMode::Specific)).unwrap_err(), Reason::NotStateAgency);
}

#[test]
fn readers_who_do_not_see_the_key_cannot_address_rows_by_it() {
    let mut ds = dataset(SharingMode::Open);
    ds.key = vec![1]; // ho_ten (basic personal data) is the key
    let public = decide_read(&Subject::Anonymous, &ds, now(), &[]).unwrap();
    assert!(!public.sees_key());
    let owner = decide_read(&subject(Who::OwnerMember), &ds, now(), &[]).unwrap();
    assert!(owner.sees_key() && owner.sees_every_field());
    ds.key = vec![];
    assert!(decide_read(&Subject::Anonymous, &ds, now(), &[]).unwrap().sees_key(), "no key: rows go by record id");
}

#[test]
fn files_need_every_field() {
    let ds = dataset(SharingMode::Open);
    let public = decide_read(&Subject::Anonymous, &ds, now(), &[]).unwrap();
    assert_eq!(decide_files(&public, ds.fields.len()).unwrap_err(), Reason::NotEveryField);
    let owner = decide_read(&subject(Who::OwnerMember), &ds, now(), &[]).unwrap();
    assert_eq!(decide_files(&owner, ds.fields.len()).unwrap().dataset_id(), DATASET);
}

#[test]
fn datasets_and_schemas_are_for_stewards_of_the_owner() {
    let ds = dataset(SharingMode::Specific);
    for who in WHO {
        let allowed = matches!(who, Who::OwnerSteward | Who::Operator);
        assert_eq!(decide_create_dataset(&subject(who), OWNER).is_ok(), allowed, "{who:?}");
        assert_eq!(decide_schema_change(&subject(who), &ds).is_ok(), allowed, "{who:?}");
        assert_eq!(decide_write(&subject(who), &ds).is_ok(), allowed, "{who:?}");
    }
    assert_eq!(decide_create_dataset(&subject(Who::OwnerSteward), OWNER).unwrap().owner(), OWNER);
    assert_eq!(decide_create_dataset(&Subject::Anonymous, OWNER).unwrap_err(), Reason::SignInRequired);
}

#[test]
fn a_datasets_description_is_edited_by_stewards_of_its_owner_only() {
    for mode in SharingMode::ALL {
        let ds = dataset(mode);
        for who in WHO {
            // Not administrators, not the owner's officers, not a consumer's steward.
            let allowed = matches!(who, Who::OwnerSteward | Who::Operator);
            assert_eq!(decide_edit_dataset(&subject(who), &ds).is_ok(), allowed, "{mode:?} {who:?}");
        }
    }
    let ds = dataset(SharingMode::Default);
    assert_eq!(decide_edit_dataset(&subject(Who::OwnerSteward), &ds).unwrap().dataset_id(), DATASET);
    assert_eq!(decide_edit_dataset(&Subject::Anonymous, &ds).unwrap_err(), Reason::SignInRequired);
    assert_eq!(decide_edit_dataset(&subject(Who::ConsumerSteward), &ds).unwrap_err(), Reason::NotSteward);
    assert_eq!(decide_edit_dataset(&subject(Who::OwnerAdmin), &ds).unwrap_err(), Reason::NotSteward);
    // A steward whose agency merged away is no steward of anything.
    let ended = Subject::User { user_id: UserId(1), agency_id: Some(OWNER), agency_active: false, role: Role::Steward };
    assert!(decide_edit_dataset(&ended, &ds).is_err());
}

fn request(status: RequestStatus) -> RequestFacts {
    RequestFacts { id: RequestId(3), dataset: DATASET, owner: OWNER, consumer: CONSUMER, requester: UserId(1), status }
}

#[test]
fn only_stewards_of_the_owner_decide_and_the_requester_withdraws() {
    let r = request(RequestStatus::Pending);
    for who in WHO {
        let decides = matches!(who, Who::OwnerSteward | Who::Operator);
        for step in [Step::Approve, Step::Refuse, Step::Revoke] {
            assert_eq!(decide_step(&subject(who), &r, step).is_ok(), decides, "{who:?} {step:?}");
        }
        // Every user in `subject` is user 1, the requester, except the public and operator cases.
        let withdraws = matches!(who, Who::Operator) || subject(who).user() == Some(UserId(1));
        assert_eq!(decide_step(&subject(who), &r, Step::Withdraw).is_ok(), withdraws, "{who:?}");
    }
    let other_steward = Subject::User { user_id: UserId(2), agency_id: Some(CONSUMER), agency_active: true, role: Role::Steward };
    assert!(decide_step(&other_steward, &r, Step::Withdraw).is_ok(), "a steward of the consumer may withdraw");
    let other_member = Subject::User { user_id: UserId(2), agency_id: Some(CONSUMER), agency_active: true, role: Role::Member };
    assert_eq!(decide_step(&other_member, &r, Step::Withdraw).unwrap_err(), Reason::NotRequester);
    let p = decide_step(&subject(Who::OwnerSteward), &r, Step::Approve).unwrap();
    assert_eq!((p.request(), *p.step(), p.by()), (RequestId(3), Step::Approve, Some(UserId(1))));
}

#[test]
fn requests_are_seen_by_their_parties_and_listed_by_box() {
    let r = request(RequestStatus::Pending);
    let stranger = Subject::User { user_id: UserId(8), agency_id: Some(AgencyId(77)), agency_active: true, role: Role::Steward };
    assert!(decide_view(&subject(Who::ConsumerMember), &r).is_ok());
    assert!(decide_view(&subject(Who::OwnerMember), &r).is_ok());
    assert!(decide_view(&subject(Who::OtherAdmin), &r).is_ok());
    assert_eq!(decide_view(&stranger, &r).unwrap_err(), Reason::NotParty);
    assert_eq!(decide_view(&Subject::Anonymous, &r).unwrap_err(), Reason::SignInRequired);
    assert_eq!(decide_listing(&subject(Who::OwnerSteward), RequestBox::ToDecide).unwrap().scope(), RequestScope::ToDecideBy(OWNER));
    assert_eq!(decide_listing(&subject(Who::ConsumerMember), RequestBox::Mine).unwrap().scope(), RequestScope::FiledBy(CONSUMER));
    assert!(decide_listing(&subject(Who::ConsumerMember), RequestBox::All).is_err());
    assert_eq!(decide_listing(&subject(Who::OtherAdmin), RequestBox::All).unwrap().scope(), RequestScope::All);
    assert_eq!(decide_listing(&subject(Who::PublicUser), RequestBox::Mine).unwrap_err(), Reason::NotStateAgency);
}

#[test]
fn requests_are_filed_by_officers_of_other_active_agencies() {
    let ds = dataset(SharingMode::Specific);
    let p = decide_filing(&subject(Who::ConsumerMember), &ds).unwrap();
    assert_eq!((p.agency(), p.user(), p.dataset()), (CONSUMER, UserId(1), DATASET));
    assert_eq!(decide_filing(&subject(Who::OwnerMember), &ds).unwrap_err(), Reason::OwnData);
    assert_eq!(decide_filing(&subject(Who::PublicUser), &ds).unwrap_err(), Reason::NotStateAgency);
    assert_eq!(decide_filing(&Subject::Anonymous, &ds).unwrap_err(), Reason::SignInRequired);
}

#[test]
fn the_audit_log_is_for_administrators_and_stewards_of_their_agency() {
    assert_eq!(decide_audit_read(&subject(Who::OtherAdmin)).unwrap().scope(), AuditScope::All);
    assert_eq!(decide_audit_read(&Subject::Operator).unwrap().scope(), AuditScope::All);
    assert_eq!(decide_audit_read(&subject(Who::OwnerSteward)).unwrap().scope(), AuditScope::Agency(OWNER));
    assert_eq!(decide_audit_read(&subject(Who::OwnerMember)).unwrap_err(), Reason::NotSteward);
    assert_eq!(decide_audit_read(&Subject::Anonymous).unwrap_err(), Reason::SignInRequired);
    assert!(decide_audit_verify(&subject(Who::OwnerSteward)).is_err());
    assert!(decide_audit_verify(&subject(Who::OtherAdmin)).is_ok());
}

#[test]
fn administration_is_for_administrators() {
    for who in WHO {
        let admin = matches!(who, Who::OwnerAdmin | Who::OtherAdmin | Who::Operator);
        assert_eq!(decide_agency_admin(&subject(who)).is_ok(), admin, "{who:?}");
        assert_eq!(decide_user_admin(&subject(who)).is_ok(), admin, "{who:?}");
        assert_eq!(decide_catalog(&subject(who)).is_ok(), admin, "{who:?}");
        let contact = admin || who == Who::OwnerSteward;
        assert_eq!(decide_contact(&subject(who), OWNER).is_ok(), contact, "{who:?}");
    }
}

#[test]
fn tokens_are_managed_by_their_owner_or_an_administrator() {
    let me = subject(Who::ConsumerMember); // user 1
    assert_eq!(decide_tokens(&me, UserId(1)).unwrap().reason(), Reason::OwnAccount);
    assert_eq!(decide_tokens(&me, UserId(2)).unwrap_err(), Reason::NotAdmin);
    assert_eq!(decide_tokens(&subject(Who::OtherAdmin), UserId(2)).unwrap().user(), UserId(2));
    assert_eq!(decide_tokens(&Subject::Anonymous, UserId(2)).unwrap_err(), Reason::SignInRequired);
}

/// A harvested dataset is read-only here: not its owner's stewards, not an
/// administrator; only the operator (as which the harvester acts).
#[test]
fn harvested_datasets_are_read_only_but_for_the_operator() {
    let ds = DatasetFacts { harvested: true, ..dataset(SharingMode::Open) };
    let steward = subject(Who::OwnerSteward);
    assert_eq!(decide_write(&steward, &ds).unwrap_err(), Reason::Harvested);
    assert_eq!(decide_write(&subject(Who::OwnerAdmin), &ds).unwrap_err(), Reason::Harvested);
    assert_eq!(decide_schema_change(&steward, &ds).unwrap_err(), Reason::Harvested);
    assert_eq!(decide_edit_dataset(&steward, &ds).unwrap_err(), Reason::Harvested);
    assert!(decide_write(&Subject::Operator, &ds).is_ok());
    // Reading is as for any open dataset.
    assert!(decide_read(&subject(Who::Anonymous), &ds, chrono::Utc::now(), &[]).is_ok());
}

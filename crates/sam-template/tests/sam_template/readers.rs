//! The generic readers: paths in errors, literals against intrinsics, both forms of each intrinsic.

use anyhow::Result;
use sam_template::{Node, Template};

use crate::error_of;

const TEMPLATE: &str = r#"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema:
        - { AttributeName: [id], KeyType: HASH }
        - { AttributeName: !Ref KeyName, KeyType: RANGE }
      Count: "42"
      Size: 7
      Flag: "TRUE"
      Off: false
  Short:
    Type: Custom::Thing
    Properties:
      Ref: !Ref CommentsTable
      Att: !GetAtt CommentsTable.StreamArn
      AttList: !GetAtt [CommentsTable, Arn]
      Sub: !Sub "${CommentsTable.Arn}/index/retry_due"
      SubList: !Sub ["${Table}-x", { Table: !Ref CommentsTable }]
  Long:
    Type: Custom::Thing
    Properties:
      Ref: { "Ref": "CommentsTable" }
      Att: { "Fn::GetAtt": ["CommentsTable", "StreamArn"] }
      AttDotted: { "Fn::GetAtt": "CommentsTable.Arn" }
      Sub: { "Fn::Sub": "${CommentsTable.Arn}/index/retry_due" }
      If: { "Fn::If": [HasThing, a, b] }
      NotOne: { "Ref": "A", "Other": "B" }
"#;

fn template() -> Result<Template> {
    Template::parse(TEMPLATE)
}

fn property<'a>(template: &'a Template, resource: &str, key: &str) -> Result<Node<'a>> {
    template
        .resource(resource)
        .ok_or_else(|| anyhow::anyhow!("no {resource}"))?
        .properties()?
        .field(key)
}

#[test]
fn errors_name_the_path_of_the_value() -> Result<()> {
    let template = template()?;
    let key_schema = property(&template, "Table", "KeySchema")?;
    let items = key_schema.items()?;
    assert_eq!(items[0].path(), "Resources.Table.Properties.KeySchema[0]");

    let message = error_of(items[0].field("AttributeName")?.str());
    assert_eq!(
        message,
        "Resources.Table.Properties.KeySchema[0].AttributeName: expected a string, found a list"
    );
    let message = error_of(items[1].field("AttributeName")?.str());
    assert!(
        message.starts_with(
            "Resources.Table.Properties.KeySchema[1].AttributeName: expected a string"
        ),
        "{message}"
    );
    assert!(message.contains("!Ref intrinsic function"), "{message}");

    let message = error_of(items[0].field("Projection"));
    assert_eq!(
        message,
        "Resources.Table.Properties.KeySchema[0] has no Projection"
    );
    let message = error_of(key_schema.field("Anything"));
    assert_eq!(
        message,
        "Resources.Table.Properties.KeySchema: expected a mapping, found a list"
    );
    let message = error_of(property(&template, "Table", "Size")?.items());
    assert_eq!(
        message,
        "Resources.Table.Properties.Size: expected a list, found the number 7"
    );
    let message = error_of(items[0].field("KeyType")?.one_of(&["RANGE"]));
    assert!(
        message.contains("KeySchema[0].KeyType: \"HASH\" is not one of"),
        "{message}"
    );
    let message = error_of(template.root().field("Outputs"));
    assert_eq!(message, "the template has no Outputs");
    Ok(())
}

#[test]
fn scalars_take_cloudformations_spellings() -> Result<()> {
    let template = template()?;
    assert_eq!(property(&template, "Table", "Count")?.integer()?, 42);
    assert_eq!(property(&template, "Table", "Size")?.integer()?, 7);
    assert!(property(&template, "Table", "Flag")?.boolean()?);
    assert!(!property(&template, "Table", "Off")?.boolean()?);
    let message = error_of(property(&template, "Table", "Flag")?.integer());
    assert!(
        message.contains("Table.Properties.Flag: expected an integer"),
        "{message}"
    );
    let message = error_of(property(&template, "Table", "Count")?.boolean());
    assert!(
        message.contains("expected true or false, found the string \"42\""),
        "{message}"
    );
    Ok(())
}

#[test]
fn lenient_readers_answer_none_and_never_look_through_a_tag() -> Result<()> {
    let template = template()?;
    let short = template
        .resource("Short")
        .ok_or_else(|| anyhow::anyhow!("no Short"))?;
    assert!(short.property("Missing").is_none());
    assert!(
        short
            .node()
            .find(&["Properties", "Ref", "Deeper"])
            .is_none()
    );
    let reference = short
        .property("Ref")
        .ok_or_else(|| anyhow::anyhow!("no Ref"))?;
    // serde_yaml_ng's own `as_str` would answer "CommentsTable" here.
    assert_eq!(reference.as_str(), None);
    assert_eq!(reference.as_integer(), None);
    assert!(!reference.is_true());
    assert_eq!(
        property(&template, "Table", "Count")?.as_integer(),
        Some(42)
    );
    Ok(())
}

#[test]
fn intrinsics_are_read_in_both_forms() -> Result<()> {
    let template = template()?;
    for form in ["Short", "Long"] {
        let get = |key: &str| property(&template, form, key);
        assert_eq!(get("Ref")?.ref_target(), Some("CommentsTable"), "{form}");
        assert_eq!(get("Ref")?.render(), "!Ref CommentsTable", "{form}");
        assert_eq!(
            get("Att")?.get_att(),
            Some(("CommentsTable", "StreamArn")),
            "{form}"
        );
        assert_eq!(get("Att")?.render(), "!GetAtt CommentsTable.StreamArn");
        assert_eq!(get("Att")?.ref_target(), None);
        assert_eq!(
            get("Sub")?.sub_text(),
            Some("${CommentsTable.Arn}/index/retry_due")
        );
        assert_eq!(
            get("Sub")?.render(),
            "!Sub \"${CommentsTable.Arn}/index/retry_due\""
        );
        let message = error_of(get("Ref")?.str());
        assert!(
            message.contains("a !Ref intrinsic function"),
            "{form}: {message}"
        );
    }
    assert_eq!(
        property(&template, "Short", "AttList")?.get_att(),
        Some(("CommentsTable", "Arn"))
    );
    assert_eq!(
        property(&template, "Long", "AttDotted")?.get_att(),
        Some(("CommentsTable", "Arn"))
    );
    assert_eq!(
        property(&template, "Short", "SubList")?.sub_text(),
        Some("${Table}-x")
    );
    let condition = property(&template, "Long", "If")?;
    let intrinsic = condition
        .intrinsic()
        .ok_or_else(|| anyhow::anyhow!("Fn::If is an intrinsic"))?;
    assert_eq!(intrinsic.name(), "If");
    assert_eq!(intrinsic.argument().items()?.len(), 3);
    // A mapping with more than one key is a mapping, not an intrinsic.
    let mapping = property(&template, "Long", "NotOne")?;
    assert!(mapping.intrinsic().is_none());
    assert_eq!(mapping.render(), "Ref: A\nOther: B");
    Ok(())
}

#[test]
fn the_template_must_have_resources_each_with_a_type() {
    let message = error_of(Template::parse("Outputs: {}\n"));
    assert_eq!(message, "the template has no Resources");
    let message = error_of(Template::parse(
        "Resources:\n  Thing:\n    Properties: {}\n",
    ));
    assert_eq!(message, "Resources.Thing has no Type");
    let message = error_of(Template::parse("Resources: [a"));
    assert!(
        message.starts_with("parsing the template as YAML"),
        "{message}"
    );
    let message = error_of(Template::load("/no/such/template.yaml"));
    assert!(
        message.starts_with("reading /no/such/template.yaml"),
        "{message}"
    );
}

#[test]
fn resources_are_found_by_id_and_type() -> Result<()> {
    let template = template()?;
    let ids: Vec<&str> = template.resources().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["Table", "Short", "Long"]);
    let custom: Vec<&str> = template
        .resources_of_type("Custom::Thing")
        .iter()
        .map(|r| r.id())
        .collect();
    assert_eq!(custom, ["Short", "Long"]);
    assert_eq!(
        template
            .resource_of_type("Short", "Custom::Thing")?
            .type_name(),
        "Custom::Thing"
    );
    let message = error_of(template.resource_of_type("Short", "AWS::IAM::Role"));
    assert_eq!(
        message,
        "Resources.Short is a Custom::Thing, not an AWS::IAM::Role"
    );
    let message = error_of(template.resource_of_type("Nothing", "AWS::IAM::Role"));
    assert_eq!(message, "Resources has no Nothing");
    Ok(())
}

#[test]
fn the_real_template_is_found_and_read() -> Result<()> {
    assert!(sam_template::repo_root().join("Cargo.toml").is_file());
    let template = Template::load(sam_template::template_path())?;
    assert!(template.resource("CommentsTable").is_some());
    Ok(())
}

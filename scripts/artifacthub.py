#!/usr/bin/env python3
"""Writes artifacthub-pkg.yml from policy-metadata/ where kwctl is not
installed (`kwctl scaffold artifacthub` is used when it is): the same fields,
taken from metadata.yml and questions-ui.yml, so the two never drift."""
import datetime
import json
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
meta_text = (root / "policy-metadata/metadata.yml").read_text()
questions = (root / "policy-metadata/questions-ui.yml").read_text()


def annotation(key):
    m = re.search(r"^\s*" + re.escape(key) + r":\s*(.+)$", meta_text, re.M)
    if not m:
        sys.exit(f"metadata.yml has no annotation {key}")
    return m.group(1).strip().strip('"')


rules = meta_text.split("rules:", 1)[1].split("mutating:", 1)[0].rstrip()
# The entries under contextAwareResources (comment lines dropped), as kwctl
# writes them into kubewarden/contextAwareResources.
context_aware = "\n".join(
    line[2:] if line.startswith("  ") else line
    for line in meta_text.split("contextAwareResources:", 1)[1]
    .split("executionMode:", 1)[0]
    .splitlines()
    if line.strip() and not line.lstrip().startswith("#")
)
version = annotation("io.kubewarden.policy.version")
oci = annotation("io.kubewarden.policy.ociUrl")
source = annotation("io.kubewarden.policy.source")
author = annotation("io.kubewarden.policy.author")
name_m = re.match(r"(.*?)\s*<(.+)>", author)
created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def block(text, indent):
    return "\n".join(indent + line if line else line for line in text.rstrip().splitlines())


out = f"""# Generated from policy-metadata/ by `make artifacthub-pkg.yml`; do not edit by hand.
version: {version}
name: {annotation("io.kubewarden.policy.title")}
displayName: {annotation("io.artifacthub.displayName")}
createdAt: {created}
description: {annotation("io.kubewarden.policy.description")}
license: {annotation("io.kubewarden.policy.license")}
homeURL: {annotation("io.kubewarden.policy.url")}
containersImages:
- name: policy
  image: {oci}:v{version}
keywords:
{chr(10).join("- " + k.strip() for k in annotation("io.artifacthub.keywords").split(","))}
links:
- name: policy
  url: {source}/releases/download/v{version}/policy.wasm
- name: source
  url: {source}
install: |
  The policy can be obtained using [`kwctl`](https://github.com/kubewarden/kwctl):
  ```console
  kwctl pull {oci}:v{version}
  ```
  Then, generate the policy manifest and tune it to your liking. For example:
  ```console
  kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{oci}:v{version}
  ```
maintainers:
- name: {name_m.group(1) if name_m else author}
  email: {name_m.group(2) if name_m else ""}
provider:
  name: kubewarden
recommendations:
- url: https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller
annotations:
  kubewarden/contextAwareResources: |
{block(context_aware, "    ")}
  kubewarden/mutation: 'true'
  kubewarden/questions-ui: |
{block(questions, "    ")}
  kubewarden/resources: {annotation("io.artifacthub.resources")}
  kubewarden/rules: |
{block(rules.strip(chr(10)), "    ")}
"""
(root / "artifacthub-pkg.yml").write_text(out)
print("wrote artifacthub-pkg.yml")

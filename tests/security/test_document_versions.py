"""A member cannot replace, reveal or delete another person's document by reusing its name or its
bytes: a version replaces only a document of the same name, the same audience and an uploader
who may change it (its own uploader, or an administrator)."""

import httpx

from tests.ui.server import Running


def _api(web: Running, name: str) -> httpx.Client:
    key = web.service.create_api_key(web.service.actor(name))
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _upload(http: httpx.Client, name: str, text: str, groups: tuple[str, ...] = ()) -> dict[str, object]:
    data = {"groups": list(groups)} if groups else {}
    response = http.post("/v1/documents", files={"file": (name, text.encode())}, data=data)
    assert response.status_code == 200, response.text
    (result,) = response.json()
    return dict(result)


def _search_texts(web: Running, who: str, question: str) -> str:
    return " ".join(h.chunk.text for h in web.kb.reads.search(question, web.service.actor(who), k=20))


def test_a_member_cannot_replace_or_reveal_a_group_document_by_its_name(web: Running) -> None:
    alice, bob = _api(web, "alice"), _api(web, "bob")
    secret = "Salary bands for 2027: band seven pays 142,000 euros a year."
    first = _upload(alice, "hr_salaries.md", secret, ("board",))
    assert first["outcome"] == "ok"
    forged = _upload(bob, "hr_salaries.md", "Salary bands: everyone is paid one euro.")
    assert forged["outcome"] == "ok", forged  # a document of bob's own, not a new version
    assert "hr_salaries" not in str(forged["message"] or "") and str(first["document_id"]) not in str(
        forged["message"] or ""
    )
    assert "142,000" in _search_texts(web, "alice", "salary band seven")  # alice's text still answers
    docs = {d.id: d for d in web.service.list_documents(web.service.actor(None))}
    assert docs[int(str(first["document_id"]))].status == "ready"
    assert docs[int(str(forged["document_id"]))].groups == ()
    same_bytes = _upload(bob, "copy.md", secret)  # the very bytes of alice's hidden document
    assert same_bytes["outcome"] == "duplicate" and same_bytes["document_id"] is None
    assert "hr_salaries" not in str(same_bytes["message"]) and "id" not in str(same_bytes["message"]).split()
    assert "142,000" not in _search_texts(web, "bob", "salary band seven")
    # alice's own new version does replace hers, and only hers
    second = _upload(alice, "hr_salaries.md", secret.replace("142,000", "150,000"), ("board",))
    assert second["outcome"] == "replaced"
    docs = {d.id: d for d in web.service.list_documents(web.service.actor(None))}
    assert int(str(first["document_id"])) not in docs  # superseded: hidden from listings
    assert docs[int(str(forged["document_id"]))].status == "ready"  # bob's document untouched
    assert "150,000" in _search_texts(web, "alice", "salary band seven")
    # bob deleting "his" hr_salaries.md by id cannot touch alice's
    assert bob.delete(f"/v1/documents/{second['document_id']}").status_code == 404
    assert bob.delete(f"/v1/documents/{forged['document_id']}").status_code == 200
    assert int(str(second["document_id"])) in {d.id for d in web.service.list_documents(web.service.actor("alice"))}

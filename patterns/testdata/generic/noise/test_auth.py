def test_login(client):
    resp = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert resp.status_code == 200
    token = resp.json()["token"]
    assert token
    headers = {"Authorization": f"Bearer {token}"}
    api_key = make_api_key(prefix="test")
    secret = generate_secret(32)

def test_password_validation():
    assert not validate(password="short")
    assert validate(password=VALID_PASSWORD)

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SECRET_KEY_FALLBACKS = [os.environ.get("OLD_SECRET_KEY", "")]
API_KEY = os.environ["API_KEY"]
API_KEY = os.getenv("API_KEY", default=None)
GITHUB_TOKEN = os.environ.get('GITHUB_TOKEN')
DATABASE_PASSWORD = env("DATABASE_PASSWORD")
AWS_SECRET_ACCESS_KEY = config("AWS_SECRET_ACCESS_KEY")
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
PASSWORD_RESET_TIMEOUT = 259200
TOKEN_URL = "https://oauth2.googleapis.com/token"
token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
TOKEN_EXPIRY_SECONDS = 3600
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "csrftoken"
password_field = forms.CharField(widget=forms.PasswordInput)
secret_name = "prod/payments/stripe"
SECRET_NAME = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"
api_key_header = "X-API-Key"
API_KEY_NAME = "X-Api-Key"
token_type = "Bearer"
password = getpass.getpass("Password: ")
token = request.headers.get("Authorization", "").removeprefix("Bearer ")
api_key = self.api_key
secret = settings.SECRET_KEY
password = "<your password here>"
API_KEY = "YOUR_API_KEY"
API_KEY = "your-api-key-here"
SECRET = "changeme"
TOKEN = "xxxxxxxxxxxxxxxxxxxxxxxx"
password = "********"
DB_PASSWORD = "${DB_PASSWORD}"
STRIPE_SECRET = "{{ stripe_secret }}"
PRIVATE_KEY_PATH = "/etc/ssl/private/server.key"
private_key_file = "./certs/client-key.pem"
credentials_file = "~/.config/gcloud/application_default_credentials.json"
password_hash = "5f4dcc3b5aa765d61d8327deb882cf99"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d08c3b5f1cbb8"
secret_checksum = "d41d8cd98f00b204e9800998ecf8427e"
request_token = "a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b"
session_token_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
MAX_TOKENS = 4096
max_tokens = 1024
tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
tokens = tokenizer.tokenize(text)
passwords = load_passwords("wordlist.txt")
secretary = Employee.objects.get(role="secretary")
test_password = "test_password"
fake_token = "fake-token-for-tests"
dummy_secret = "dummy_secret_value"
MOCK_API_KEY = "mock-api-key"
password_min_length = 12
password_regex = r"^(?=.*[A-Z])(?=.*\d).{12,}$"
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,}"
LOGIN_URL = "/accounts/login/"

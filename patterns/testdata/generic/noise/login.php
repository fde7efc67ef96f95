<?php
$password = $_POST['password'] ?? '';
$token = bin2hex(random_bytes(32));
$apiKey = getenv('API_KEY');
$hash = password_hash($password, PASSWORD_DEFAULT);
if (!password_verify($password, $row['password_hash'])) {
    http_response_code(401);
}
$_SESSION['csrf_token'] = $token;
echo '<input type="password" name="password" placeholder="Password">';
$config['secret'] = $_ENV['APP_SECRET'];
define('AUTH_KEY', getenv('WP_AUTH_KEY'));

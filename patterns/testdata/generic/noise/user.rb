class User < ApplicationRecord
  has_secure_password
  has_secure_token :auth_token
  validates :password, length: { minimum: 12 }, if: :password_required?
  attr_accessor :password_confirmation
  def self.authenticate(email, password)
    find_by(email: email)&.authenticate(password)
  end
  def regenerate_api_key!
    update!(api_key: SecureRandom.hex(20))
  end
  API_KEY_LENGTH = 40
  TOKEN_PREFIX = "usr_"
end
Rails.application.credentials.secret_key_base
config.api_token = ENV.fetch("API_TOKEN")

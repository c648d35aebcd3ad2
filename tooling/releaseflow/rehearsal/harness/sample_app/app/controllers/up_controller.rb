# Answers health checks with the commit the running process was started from, so a deploy can
# tell a restarted host from one still serving the old code.
class UpController < ActionController::Base
  def show
    revision = Rails.configuration.x.revision
    response.set_header("X-Revision", revision)
    render plain: "ok #{revision}\n"
  end
end

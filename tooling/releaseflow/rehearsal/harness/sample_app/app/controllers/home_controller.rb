class HomeController < ApplicationController
  def index
    render plain: "releaseflow sample app, revision #{Rails.configuration.x.revision}\n"
  end
end
